import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DynaliteServer, REGISTRY_TABLE } from './dynalite-server.ts';

const uncaught: unknown[] = [];
const record = (error: unknown) => uncaught.push(error);

afterEach(() => {
  process.off('uncaughtException', record);
  uncaught.length = 0;
});

describe('the DynamoDB peer (dynalite behind a fault-injecting front)', () => {
  it('stops while writes are in flight without dynalite throwing on its closed database: the writes it serves end first', async () => {
    // Prepare: 200 writes sent at once, the peer stopped once 20 have reached it.
    const server = new DynaliteServer();
    const url = await server.start();
    const client = new DynamoDBClient({ endpoint: url, region: 'us-east-1', maxAttempts: 1 });
    process.on('uncaughtException', record);
    const puts = Array.from({ length: 200 }, (_, i) =>
      client.send(new PutItemCommand({ TableName: REGISTRY_TABLE, Item: { pk: { S: `a${i}` }, sk: { S: 'x' } } })),
    );
    const settled = Promise.allSettled(puts); // cut ones fail: their rejections are expected
    await vi.waitFor(() => expect(server.counts.PutItem ?? 0).toBeGreaterThan(20), { timeout: 5_000, interval: 1 });
    // Act
    await server.stop();
    await settled;
    await new Promise((resolve) => setTimeout(resolve, 200));
    client.destroy();
    // Assess
    expect(uncaught).toEqual([]);
  });
});
