/**
 * dynalite (the DynamoDB protocol in memory, or persisted to a folder, on npm) on loopback, with
 * the quota table (partition key pk, on-demand) and the registry table (REGISTRY_TABLE_SCHEMA,
 * which the template test holds serverless.yml to) created as serverless.yml declares them.
 * Faults can be injected per operation ahead of dynalite: latency, a 500 InternalServerError, a
 * ThrottlingException (400, as DynamoDB throttles an on-demand table), a dropped connection.
 *
 * Mocked boundary: none; the faults answer what DynamoDB answers, everything else is dynalite's.
 */
import { createRequire } from 'node:module';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { REGISTRY_TABLE_SCHEMA } from '../../lib/archive/registry-table.ts';

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  path?: string;
}) => Server;

export interface DynamoDbFault {
  kind: 'latency' | 'http5xx' | 'throttle' | 'drop';
  /** The operation (UpdateItem, Query, …); every operation when absent. */
  operation?: string;
  times?: number;
  latencyMs?: number;
  /** Let this many matching requests through before the fault starts. */
  after?: number;
}

const FAULT_BODY = {
  http5xx: { status: 500, type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'Internal server error (injected)' },
  throttle: {
    status: 400,
    type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException',
    message: 'Rate of requests exceeds the allowed throughput (injected)',
  },
};

export const QUOTA_TABLE = 'rtc-segment-tasks-quota';
export const REGISTRY_TABLE = 'rtc-segment-tasks-registry';

export class DynaliteServer {
  readonly #server: Server;
  /** Requests served, by operation (UpdateItem, GetItem, …). */
  readonly counts: Record<string, number> = {};
  readonly #faults: Array<DynamoDbFault & { seen: number }> = [];
  #url = '';

  /** `path`: a folder to keep the tables in across restarts (the local stack); in memory without it. */
  constructor(options: { path?: string } = {}) {
    this.#server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...options });
    const serve = this.#server.listeners('request') as Array<(request: IncomingMessage, response: ServerResponse) => void>;
    this.#server.removeAllListeners('request');
    this.#server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const operation =
        String(request.headers['x-amz-target'] ?? '')
          .split('.')
          .at(-1) || 'unknown';
      this.counts[operation] = (this.counts[operation] ?? 0) + 1;
      response.on('finish', () => {
        if (response.statusCode !== 200) this.counts[`${operation}Refused`] = (this.counts[`${operation}Refused`] ?? 0) + 1;
      });
      const forward = () => {
        for (const listener of serve) listener.call(this.#server, request, response);
      };
      this.#injectOrForward(operation, request, response, forward);
    });
  }

  /** Injects `fault` into the requests that match it, until cleared or `times` are used up. */
  inject(fault: DynamoDbFault): void {
    this.#faults.push({ ...fault, seen: 0 });
  }

  clearFaults(): void {
    this.#faults.length = 0;
  }

  #injectOrForward(operation: string, request: IncomingMessage, response: ServerResponse, forward: () => void): void {
    const fault = this.#faults.find((f) => (f.operation === undefined || f.operation === operation) && f.seen++ >= (f.after ?? 0));
    if (!fault) {
      forward();
      return;
    }
    if (fault.times !== undefined && --fault.times <= 0) this.#faults.splice(this.#faults.indexOf(fault), 1);
    if (fault.kind === 'latency') {
      setTimeout(forward, fault.latencyMs ?? 1_000);
      return;
    }
    if (fault.kind === 'drop') {
      request.socket.destroy();
      return;
    }
    // The request is read to its end before the answer, as DynamoDB does.
    request.resume();
    request.on('end', () => {
      const body = FAULT_BODY[fault.kind as 'http5xx' | 'throttle'];
      response.writeHead(body.status, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify({ __type: body.type, message: body.message }));
    });
  }

  get url(): string {
    return this.#url;
  }

  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    await createQuotaTable(this.#url, QUOTA_TABLE);
    await createRegistryTable(this.#url, REGISTRY_TABLE);
    return this.#url;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export function createQuotaTable(endpoint: string, table: string): Promise<void> {
  return createTable(endpoint, {
    TableName: table,
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
  });
}

export function createRegistryTable(endpoint: string, table: string): Promise<void> {
  return createTable(endpoint, { TableName: table, ...structuredClone(REGISTRY_TABLE_SCHEMA) } as never);
}

/** Creates an on-demand table, unless a persisted one exists already. */
async function createTable(endpoint: string, input: ConstructorParameters<typeof CreateTableCommand>[0]): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1' });
  try {
    await client.send(new CreateTableCommand({ ...input, BillingMode: 'PAY_PER_REQUEST' }));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  } finally {
    client.destroy();
  }
}
