/**
 * dynalite (the DynamoDB protocol in memory, on npm) on loopback, with the quota table created
 * as serverless.yml declares it: partition key pk (S), on-demand.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => Server;

export const QUOTA_TABLE = 'rtc-segment-tasks-quota';

export class DynaliteServer {
  readonly #server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  /** Requests served, by operation (UpdateItem, GetItem, …). */
  readonly counts: Record<string, number> = {};
  #url = '';

  constructor() {
    this.#server.on('request', (request, response) => {
      const operation =
        String(request.headers['x-amz-target'] ?? '')
          .split('.')
          .at(-1) || 'unknown';
      this.counts[operation] = (this.counts[operation] ?? 0) + 1;
      response.on('finish', () => {
        if (response.statusCode !== 200) this.counts[`${operation}Refused`] = (this.counts[`${operation}Refused`] ?? 0) + 1;
      });
    });
  }

  get url(): string {
    return this.#url;
  }

  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    await createQuotaTable(this.#url, QUOTA_TABLE);
    return this.#url;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export async function createQuotaTable(endpoint: string, table: string): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1' });
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  client.destroy();
}
