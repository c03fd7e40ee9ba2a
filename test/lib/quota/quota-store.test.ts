/** Fidelity of every DynamoDB operation the quota relies on, against dynalite over loopback. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbQuotaStore } from '../../../lib/quota/quota-store.ts';
import { DynaliteServer, QUOTA_TABLE } from '../../dynamodb/dynalite-server.ts';

let server: DynaliteServer;
let store: DynamoDbQuotaStore;
const signal = () => new AbortController().signal;
const NOW = Date.UTC(2026, 11, 1, 12);

beforeAll(async () => {
  server = new DynaliteServer();
  await server.start();
  store = new DynamoDbQuotaStore(QUOTA_TABLE, { endpoint: server.url, region: 'us-east-1' });
});
afterAll(() => server.stop());

describe('DynamoDbQuotaStore against dynalite', () => {
  it('restarts a missing or past frontier at now, and refuses while it lies ahead', async () => {
    expect(await store.restart('lookup', 20, NOW, signal())).toBe(NOW);
    expect(await store.read('lookup', signal())).toBe(NOW + 20);
    expect(await store.restart('lookup', 20, NOW + 10, signal())).toBeUndefined();
    expect(await store.restart('lookup', 20, NOW + 25, signal())).toBe(NOW + 25);
  });

  it('advances a frontier that lies between now and the latest slot wanted, by exactly one slot', async () => {
    await store.restart('archiver', 100, NOW, signal());
    expect(await store.advance('archiver', 100, NOW, NOW + 250, signal())).toBe(NOW + 100);
    expect(await store.advance('archiver', 100, NOW, NOW + 250, signal())).toBe(NOW + 200);
    expect(await store.advance('archiver', 100, NOW, NOW + 250, signal())).toBeUndefined(); // the next slot, NOW + 300, is too late
    expect(await store.advance('archiver', 100, NOW + 400, NOW + 1000, signal())).toBeUndefined(); // the frontier lies in the past
    expect(await store.read('archiver', signal())).toBe(NOW + 300);
  });

  it('holds conditional ADDs atomically: 200 concurrent takers get 10 distinct slots', async () => {
    await store.restart('lookup', 10, NOW + 1_000_000, signal());
    const results = await Promise.all(
      Array.from({ length: 200 }, () => store.advance('lookup', 10, NOW + 1_000_000, NOW + 1_000_100, signal())),
    );
    const granted = results.filter((r): r is number => r !== undefined);
    expect(granted).toHaveLength(10);
    expect(new Set(granted).size).toBe(10);
    expect(Math.min(...granted)).toBe(NOW + 1_000_010);
  });

  it('writes the TTL attribute (epoch seconds a day ahead) with every slot', async () => {
    await store.restart('lookup', 10, NOW + 5_000_000, signal());
    const client = new DynamoDBClient({ endpoint: server.url, region: 'us-east-1' });
    const item = (
      await client.send(new GetItemCommand({ TableName: QUOTA_TABLE, Key: { pk: { S: 'frontier#lookup' } }, ConsistentRead: true }))
    ).Item;
    expect(Number(item?.expiresAt?.N)).toBe(Math.floor((NOW + 5_000_000) / 1000) + 86_400);
    client.destroy();
  });

  it('gives up on a call when its signal aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(store.advance('lookup', 10, NOW, NOW + 100, controller.signal)).rejects.toThrow();
  });
});
