/** Fidelity of every DynamoDB operation the quota relies on, against dynalite over loopback. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { type DynamoDbQuotaStore, isTableThrottling, type TakeRequest } from '../../../lib/quota/quota-store.ts';
import { DynaliteServer } from '../../dynamodb/dynalite-server.ts';
import { freshQuotaStore } from '../../quota/dynalite-quota-store.ts';

let server: DynaliteServer;
let store: DynamoDbQuotaStore;
const signal = () => new AbortController().signal;
const NOW = Date.UTC(2026, 11, 1, 12);

beforeAll(async () => {
  server = new DynaliteServer();
  await server.start();
});
afterAll(() => server.stop());
beforeEach(async () => {
  store = await freshQuotaStore(server, 'quota-store');
});

const restart = (now: number, spanMs = 20, extra: Partial<TakeRequest> = {}) =>
  store.take({ share: 'lookup', op: 'restart', spanMs, now, latest: now, at: now, ...extra }, signal());
const advance = (now: number, latest: number, spanMs = 100, extra: Partial<TakeRequest> = {}) =>
  store.take({ share: 'archiver', op: 'advance', spanMs, now, latest, at: now, ...extra }, signal());

describe('DynamoDbQuotaStore against dynalite', () => {
  it('restarts a missing or past frontier at now, and refuses while it lies ahead, returning the item either way', async () => {
    expect(await restart(NOW)).toEqual({ taken: true, before: undefined });
    expect(await store.read(signal())).toMatchObject({ lookup: NOW + 20, stamp: NOW });
    expect(await restart(NOW + 10)).toMatchObject({ taken: false, before: { lookup: NOW + 20, stamp: NOW } });
    expect(await restart(NOW + 25)).toMatchObject({ taken: true, before: { lookup: NOW + 20 } });
    expect(await store.read(signal())).toMatchObject({ lookup: NOW + 45, stamp: NOW + 25 });
  });

  it('advances a frontier that lies between now and the latest slot wanted, by exactly the span', async () => {
    await store.take({ share: 'archiver', op: 'restart', spanMs: 100, now: NOW, latest: NOW, at: NOW }, signal());
    expect(await advance(NOW, NOW + 250)).toMatchObject({ taken: true, before: { archiver: NOW + 100 } });
    expect(await advance(NOW, NOW + 250)).toMatchObject({ taken: true, before: { archiver: NOW + 200 } });
    expect(await advance(NOW, NOW + 250)).toMatchObject({ taken: false, before: { archiver: NOW + 300 } }); // too late for the caller
    expect(await advance(NOW + 400, NOW + 1000)).toMatchObject({ taken: false }); // the frontier lies in the past
    expect((await store.read(signal()))?.archiver).toBe(NOW + 300);
  });

  it('returns the item with a failed condition, without a read (the proxy fills in what dynalite leaves out)', async () => {
    await restart(NOW, 1_000);
    const reads = server.counts.GetItem ?? 0;
    expect(await restart(NOW + 1)).toMatchObject({ taken: false, before: { lookup: NOW + 1_000 } });
    expect(server.counts.GetItem ?? 0).toBe(reads);
  });

  it('holds conditional ADDs atomically: 200 concurrent takers get 10 distinct slots', async () => {
    await restart(NOW, 10);
    const results = await Promise.all(Array.from({ length: 200 }, () => advance(NOW, NOW + 100, 10, { share: 'lookup' })));
    const granted = results.filter((r) => r.taken).map((r) => r.before!.lookup!);
    expect(granted).toHaveLength(10);
    expect(new Set(granted).size).toBe(10);
    expect(Math.min(...granted)).toBe(NOW + 10);
  });

  it("keeps a take of the archiver's reserve ahead of time off while the archiver's demand marker lies ahead", async () => {
    await store.take({ share: 'archiver', op: 'restart', spanMs: 100, now: NOW, latest: NOW, at: NOW, demandUntil: NOW + 1_000 }, signal());
    expect(await advance(NOW + 10, NOW + 500, 100, { whenNoDemand: true })).toMatchObject({
      taken: false,
      before: { demand: NOW + 1_000 },
    });
    expect(await advance(NOW + 10, NOW + 500)).toMatchObject({ taken: true }); // the archiver itself
    expect(await advance(NOW + 1_001, NOW + 1_500, 100, { whenNoDemand: true })).toMatchObject({ taken: false }); // past: a restart
    expect(
      await store.take(
        { share: 'archiver', op: 'restart', spanMs: 100, now: NOW + 1_001, latest: 0, at: NOW + 1_001, whenNoDemand: true },
        signal(),
      ),
    ).toMatchObject({ taken: true, before: { demand: NOW + 1_000 } });
  });

  it('writes the TTL attribute (epoch seconds a day ahead) and the stamp with every slot', async () => {
    await restart(NOW + 5_000_000, 10);
    const client = new DynamoDBClient({ endpoint: server.url, region: 'us-east-1' });
    const item = (await client.send(new GetItemCommand({ TableName: store.table, Key: { pk: { S: 'quota' } }, ConsistentRead: true })))
      .Item;
    expect(Number(item?.expiresAt?.N)).toBe(Math.floor((NOW + 5_000_000) / 1000) + 86_400);
    expect(Number(item?.stamp?.N)).toBe(NOW + 5_000_000);
    client.destroy();
  });

  it("passes DynamoDB's throttling on as throttling", async () => {
    server.throttle('ProvisionedThroughputExceededException', 1);
    server.throttle('ThrottlingException', 1);
    for (let i = 0; i < 2; i++) expect(isTableThrottling(await restart(NOW).catch((error: unknown) => error))).toBe(true);
    expect(await restart(NOW)).toMatchObject({ taken: true });
  });

  it('gives up on a call when its signal aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      store.take({ share: 'lookup', op: 'advance', spanMs: 10, now: NOW, latest: NOW + 100, at: NOW }, controller.signal),
    ).rejects.toThrow();
  });
});
