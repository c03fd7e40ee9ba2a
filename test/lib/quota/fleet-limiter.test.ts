/**
 * The fleet-wide limiter over dynalite: separate limiter objects stand for separate Lambda
 * instances sharing one table, on the real clock.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetLimiter } from '../../../lib/quota/fleet-limiter.ts';
import { DynamoDbQuotaStore, type QuotaStore } from '../../../lib/quota/quota-store.ts';
import { VolcBudgetExhaustedError } from '../../../lib/volc/errors.ts';
import { TokenBucket } from '../../../lib/volc/rate-limiter.ts';
import { DynaliteServer } from '../../dynamodb/dynalite-server.ts';

let server: DynaliteServer;
let table = 0;
beforeAll(async () => {
  server = new DynaliteServer();
  await server.start();
});
afterAll(() => server.stop());

/** A fresh table per test, so frontiers start empty. */
async function freshStore(): Promise<DynamoDbQuotaStore> {
  const { createQuotaTable } = await import('../../dynamodb/dynalite-server.ts');
  const name = `quota-test-${++table}`;
  await createQuotaTable(server.url, name);
  return new DynamoDbQuotaStore(name, { endpoint: server.url, region: 'us-east-1' });
}

type Options = ConstructorParameters<typeof FleetLimiter>[0];
const limiter = (store: QuotaStore, role: 'lookup' | 'archiver', extra: Partial<Options> = {}) =>
  new FleetLimiter({
    store,
    role,
    shares: { accountQps: 60, archiveQps: 12 },
    storeTimeoutMs: 500,
    fallback: new TokenBucket({ ratePerSecond: 2, burst: 1 }),
    ...extra,
  });

/** A limiter whose clock is recorded, so a granted slot's time is exactly what it computed: its last now + the wait. */
function clocked(make: (now: () => number) => FleetLimiter): { limiter: FleetLimiter; lastNow: () => number } {
  let last = 0;
  return { limiter: make(() => (last = Date.now())), lastNow: () => last };
}

/** Takes slots back to back for `ms` of real time, `budgetMs` each (the client's deadline), sleeping each wait; answers the slot times. */
async function saturate(
  limiters: Array<ReturnType<typeof clocked>>,
  ms: number,
  budgetMs: number,
): Promise<{ slots: number[]; denied: number }> {
  const slots: number[] = [];
  let denied = 0;
  const until = Date.now() + ms;
  await Promise.all(
    limiters.map(async ({ limiter: l, lastNow }) => {
      while (Date.now() < until) {
        try {
          const wait = await l.reserve(budgetMs);
          slots.push(lastNow() + wait);
          await sleep(wait);
        } catch (error) {
          if (!(error instanceof VolcBudgetExhaustedError)) throw error;
          denied++;
          await sleep(5);
        }
      }
    }),
  );
  return { slots: slots.sort((a, b) => a - b), denied };
}

/** The most slots in any window of one second, wherever it starts. */
function busiestSecond(sorted: number[]): number {
  let most = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! >= 1000) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

describe('FleetLimiter', () => {
  it('keeps six saturating instances within the lookup share in every sliding second, and uses it', async () => {
    const store = await freshStore();
    const fleet = Array.from({ length: 6 }, () => clocked((now) => limiter(store, 'lookup', { now, maxWaitMs: 60 })));
    const { slots, denied } = await saturate(fleet, 3_000, 5_000);
    expect(busiestSecond(slots)).toBeLessThanOrEqual(48);
    const steady = slots.filter((t) => t >= slots[0]! + 500 && t < slots[0]! + 2_500);
    expect(steady.length / 2).toBeGreaterThanOrEqual(0.9 * 48);
    expect(denied).toBeGreaterThan(0);
  }, 20_000);

  it("reserves the archiver's share against saturating lookups, and lets it take lookup slots left idle", async () => {
    const store = await freshStore();
    const lookups = Array.from({ length: 4 }, () => clocked((now) => limiter(store, 'lookup', { now, maxWaitMs: 250 })));
    const archiver = clocked((now) => limiter(store, 'archiver', { now }));
    const [busy, archived] = await Promise.all([saturate(lookups, 2_500, 5_000), saturate([archiver], 2_500, 2_000)]);
    const all = [...busy.slots, ...archived.slots].sort((a, b) => a - b);
    expect(busiestSecond(all)).toBeLessThanOrEqual(60);
    expect(archived.slots.length / 2.5).toBeGreaterThanOrEqual(0.9 * 12);
    // Alone, the archiver also takes the idle lookup share.
    const idleStore = await freshStore();
    const worker = clocked((now) => limiter(idleStore, 'archiver', { now }));
    const alone = await saturate([worker, worker, worker, worker], 2_000, 2_000);
    expect(alone.slots.length / 2).toBeGreaterThan(0.85 * 60);
    expect(busiestSecond(alone.slots)).toBeLessThanOrEqual(60);
  }, 20_000);

  it('answers a caller it cannot serve within its wait with a Retry-After from the shared frontier', async () => {
    const store = await freshStore();
    const l = limiter(store, 'lookup', { maxWaitMs: 0 });
    await l.reserve(10_000);
    const error = await Promise.resolve(l.reserve(10_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VolcBudgetExhaustedError);
    expect((error as VolcBudgetExhaustedError).retryAfterMs).toBeGreaterThan(0);
    expect((error as VolcBudgetExhaustedError).retryAfterMs).toBeLessThanOrEqual(25);
    expect(l.drainStats()).toMatchObject({ tokensTaken: 1, tokensDenied: 1, fallbacks: 0 });
  });

  it('leases several slots per write to a steady caller, and drops a leased slot rather than use it late', async () => {
    const store = await freshStore();
    let now = Date.UTC(2026, 11, 1);
    await store.restart('lookup', 3_600_000, now, new AbortController().signal); // lookups hold their share for the next hour
    const l = limiter(store, 'archiver', { now: () => now, leaseSlots: 3 });
    const writes = () => server.counts.UpdateItem ?? 0;
    const before = writes();
    const waits = [await l.reserve(5_000), await l.reserve(5_000), await l.reserve(5_000)];
    expect(writes()).toBe(before + 1); // one write leased the three archiver slots
    const spacing = 1050 / 12;
    expect(waits).toEqual([0, Math.ceil(spacing), Math.ceil(2 * spacing)]);
    const next = [await l.reserve(5_000), await l.reserve(5_000)];
    expect(writes()).toBe(before + 2);
    expect(next[0]).toBe(Math.ceil(3 * spacing));
    now += 10_000; // the slot leased with them is in the past now: dropped, not used late
    expect(await l.reserve(5_000)).toBe(0);
    expect(writes()).toBe(before + 3);
  });

  it('serves waiting callers of one instance lowest priority first (the archiver: nearest deadline first)', async () => {
    const real = await freshStore();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: QuotaStore = {
      ...real,
      advance: real.advance.bind(real),
      read: real.read.bind(real),
      restart: async (...args) => {
        await gate;
        return real.restart(...args);
      },
    };
    const l = limiter(slow, 'lookup');
    const order: number[] = [];
    const first = l.reserve(5_000, 50).then(() => order.push(50));
    const rest = [30, 90, 10].map((p) => l.reserve(5_000, p).then(() => order.push(p)));
    release();
    await Promise.all([first, ...rest]);
    expect(order).toEqual([50, 10, 30, 90]);
  });

  it('falls back to the per-instance rate when the table does not answer, logs once, and recovers', async () => {
    const real = await freshStore();
    let down = true;
    const hanging = new Promise<never>(() => undefined);
    const flaky: QuotaStore = {
      advance: (...args) => (down ? hanging : real.advance(...args)),
      restart: (...args) => (down ? hanging : real.restart(...args)),
      read: (...args) => (down ? hanging : real.read(...args)),
    };
    const logs: string[] = [];
    const l = limiter(flaky, 'lookup', {
      storeTimeoutMs: 50,
      onDegraded: () => logs.push('degraded'),
      onRecovered: () => logs.push('recovered'),
    });
    const started = Date.now();
    const waits = [await l.reserve(1_000), await l.reserve(1_000)];
    expect(Date.now() - started).toBeLessThan(1_000); // never blocked past the caller's budget
    expect(waits[1]).toBeGreaterThan(0); // the fallback bucket: 2 per second, burst 1
    await expect(Promise.resolve(l.reserve(100))).rejects.toBeInstanceOf(VolcBudgetExhaustedError);
    down = false;
    await sleep(1_050);
    expect(await l.reserve(1_000)).toBe(0);
    expect(logs).toEqual(['degraded', 'recovered']);
    expect(l.drainStats()).toMatchObject({ fallbacks: 2, tokensTaken: 3, tokensDenied: 1 });
  });
});
