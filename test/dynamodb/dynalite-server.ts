/**
 * dynalite (the DynamoDB protocol in memory, or persisted to a folder, on npm) on loopback, with
 * the quota table (partition key pk, on-demand) and the registry table (REGISTRY_TABLE_SCHEMA,
 * which the template test holds serverless.yml to) created as serverless.yml declares them.
 *
 * Callers talk to a small proxy in front of it, which does two things dynalite 4 does not:
 * - `ReturnValuesOnConditionCheckFailure: ALL_OLD`: dynalite accepts the parameter and ignores it,
 *   so the proxy adds the item to a ConditionalCheckFailedException, read right after the failure
 *   (DynamoDB returns the item the condition was checked against; the proxy's read may see a later
 *   write, which for the quota's forward-only frontiers is as good);
 * - DynamoDB's throttling answers, injected on demand (`throttle`).
 * It counts the requests callers make, by operation (its own reads are not counted).
 */
import { createRequire } from 'node:module';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
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

export const QUOTA_TABLE = 'rtc-segment-tasks-quota';
export const REGISTRY_TABLE = 'rtc-segment-tasks-registry';

export type ThrottlingError = 'ThrottlingException' | 'ProvisionedThroughputExceededException' | 'RequestLimitExceeded';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class DynaliteServer {
  readonly #dynalite: Server;
  // A request its client gave up on (or one reaching dynalite after stop) just ends.
  readonly #front = createServer((req, res) =>
    this.#serve(req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) res.writeHead(502).end();
    }),
  );
  /** Requests served, by operation (UpdateItem, GetItem, …); `<operation>Refused` counts those answered with an error. */
  readonly counts: Record<string, number> = {};
  /** Requests whose client closed the connection before they were answered (a caller's abort cut them). */
  abandoned = 0;
  readonly #throttles: ThrottlingError[] = [];
  readonly #faults: Array<DynamoDbFault & { seen: number }> = [];
  #inner = '';
  /** Requests on their way to dynalite and back: stop() lets them end before it closes dynalite. */
  readonly #forwarding = new Set<Promise<Answer>>();
  #stopping = false;
  #url = '';

  /** `path`: a folder to keep the tables in across restarts (the local stack); in memory without it. */
  constructor(options: { path?: string } = {}) {
    this.#dynalite = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...options });
  }

  /** Injects `fault` into the requests that match it, until cleared or `times` are used up. */
  inject(fault: DynamoDbFault): void {
    this.#faults.push({ ...fault, seen: 0 });
  }

  clearFaults(): void {
    this.#faults.length = 0;
  }

  get url(): string {
    return this.#url;
  }

  /** Answers the next `times` requests with DynamoDB's `error` instead of serving them. */
  throttle(error: ThrottlingError, times: number): void {
    for (let i = 0; i < times; i++) this.#throttles.push(error);
  }

  clearThrottling(): void {
    this.#throttles.length = 0;
  }

  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.#dynalite.listen(0, '127.0.0.1', resolve));
    this.#inner = `http://127.0.0.1:${(this.#dynalite.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => this.#front.listen(port, '127.0.0.1', resolve));
    this.#url = `http://127.0.0.1:${(this.#front.address() as AddressInfo).port}`;
    await createQuotaTable(this.#url, QUOTA_TABLE);
    await createRegistryTable(this.#url, REGISTRY_TABLE);
    return this.#url;
  }

  /** Empties the quota table (deleted and created again), for a test that needs a fresh account under the template's table name. */
  async resetQuotaTable(): Promise<void> {
    const client = new DynamoDBClient({ endpoint: this.#url, region: 'us-east-1' });
    try {
      await client.send(new DeleteTableCommand({ TableName: QUOTA_TABLE }));
    } finally {
      client.destroy();
    }
    await createQuotaTable(this.#url, QUOTA_TABLE);
  }

  /**
   * Closes the front, then dynalite once the requests it is serving are answered: dynalite closes its
   * database on close, and a write reaching it after that throws in dynalite's own code (an uncaught
   * exception in the test's process), so a request a test left running (one its client stopped
   * awaiting) ends first.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#front.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#front.close(() => resolve()));
    await Promise.allSettled(this.#forwarding);
    this.#dynalite.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#dynalite.close(() => resolve()));
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.split('.').at(-1) || 'unknown';
    this.counts[operation] = (this.counts[operation] ?? 0) + 1;
    const throttled = this.#throttles.shift();
    const fault = throttled ? undefined : this.#faultFor(operation);
    res.on('close', () => {
      if (!res.writableFinished && fault?.kind !== 'drop') this.abandoned++;
    });
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'latency') await new Promise((resolve) => setTimeout(resolve, fault.latencyMs ?? 1_000));
    if (res.destroyed || this.#stopping) return; // the client gave up waiting, or the peer stops: the request is not served
    const injected = throttled ?? (fault?.kind === 'throttle' ? 'ThrottlingException' : undefined);
    const answer = injected
      ? throttlingAnswer(injected)
      : fault?.kind === 'http5xx'
        ? INTERNAL_ERROR
        : await this.#complete(req, body, await this.#forward(req, body));
    if (answer.status !== 200) this.counts[`${operation}Refused`] = (this.counts[`${operation}Refused`] ?? 0) + 1;
    res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
    res.end(answer.body);
  }

  #faultFor(operation: string): DynamoDbFault | undefined {
    const fault = this.#faults.find((f) => (f.operation === undefined || f.operation === operation) && f.seen++ >= (f.after ?? 0));
    if (fault?.times !== undefined && --fault.times <= 0) this.#faults.splice(this.#faults.indexOf(fault), 1);
    return fault;
  }

  /** A ConditionalCheckFailedException asked to return the item gets it, as DynamoDB would send it. */
  async #complete(req: IncomingMessage, body: string, answer: Answer): Promise<Answer> {
    if (answer.status !== 400 || !answer.body.includes('ConditionalCheckFailedException')) return answer;
    const asked = JSON.parse(body) as { TableName: string; Key: unknown; ReturnValuesOnConditionCheckFailure?: string };
    if (asked.ReturnValuesOnConditionCheckFailure !== 'ALL_OLD') return answer;
    const read = await this.#forward(
      { headers: { ...req.headers, 'x-amz-target': 'DynamoDB_20120810.GetItem' } },
      JSON.stringify({ TableName: asked.TableName, Key: asked.Key, ConsistentRead: true }),
    );
    const item = (JSON.parse(read.body) as { Item?: unknown }).Item;
    return item ? { ...answer, body: JSON.stringify({ ...JSON.parse(answer.body), Item: item }) } : answer;
  }

  #forward(req: Pick<IncomingMessage, 'headers'>, body: string): Promise<Answer> {
    const forwarded = this.#send(req, body);
    this.#forwarding.add(forwarded);
    return forwarded.finally(() => this.#forwarding.delete(forwarded));
  }

  #send(req: Pick<IncomingMessage, 'headers'>, body: string): Promise<Answer> {
    const headers = { ...req.headers, 'content-length': String(Buffer.byteLength(body)) };
    delete headers.host;
    return new Promise((resolve, reject) => {
      const forwarded = request(`${this.#inner}/`, { method: 'POST', headers }, (response) => {
        const parts: Buffer[] = [];
        response.on('data', (chunk: Buffer) => parts.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 500,
            headers: { 'content-type': String(response.headers['content-type'] ?? 'application/x-amz-json-1.0') },
            body: Buffer.concat(parts).toString('utf8'),
          }),
        );
        response.on('error', reject);
      });
      forwarded.on('error', reject);
      forwarded.end(body);
    });
  }
}

const INTERNAL_ERROR: Answer = {
  status: 500,
  headers: { 'content-type': 'application/x-amz-json-1.0' },
  body: JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'Internal server error (injected)' }),
};

function throttlingAnswer(error: ThrottlingError): Answer {
  return {
    status: 400,
    headers: { 'content-type': 'application/x-amz-json-1.0' },
    body: JSON.stringify({
      __type: `com.amazonaws.dynamodb.v20120810#${error}`,
      message: 'Rate of requests exceeds the allowed throughput.',
    }),
  };
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
