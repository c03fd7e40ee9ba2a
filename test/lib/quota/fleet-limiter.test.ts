/**
 * The fleet-wide limiter over dynalite: separate limiter objects stand for separate Lambda
 * instances sharing one table, on the real clock.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FleetLimiter } from '../../../lib/quota/fleet-limiter.ts';
import type { DynamoDbQuotaStore, QuotaStore } from '../../../lib/quota/quota-store.ts';
import { TokenBucket } from '../../../lib/volc/client.ts';
import { DynaliteServer } from '../../dynamodb/dynalite-server.ts';
import { freshQuotaStore } from '../../quota/dynalite-quota-store.ts';
import { gatedStore, rejectedAs } from '../../quota/gated-store.ts';
import { busiestSecond } from '../../quota/windows.ts';
import { VolcBudgetExhaustedError, VolcDeadlineError } from '../../../lib/errors.ts';

let server: DynaliteServer;
beforeAll(async () => {
  server = new DynaliteServer();
  await server.start();
});
afterAll(() => server.stop());

/** A fresh table per test, so frontiers start empty. */
const freshStore = (): Promise<DynamoDbQuotaStore> => freshQuotaStore(server, 'quota-test');

type Options = ConstructorParameters<typeof FleetLimiter>[0];
/** In process, calls reach nowhere: no network allowance. */
const TIMING = { lateMs: 10, networkMs: 0 };
const limiter = (store: QuotaStore, role: 'lookup' | 'archiver', extra: Partial<Options> = {}) =>
  new FleetLimiter({
    store,
    role,
    shares: { accountQps: 60, archiveQps: 12 },
    timing: TIMING,
    storeTimeoutMs: 500,
    fallback: new TokenBucket({ ratePerSecond: 2, burst: 1 }),
    ...extra,
  });

/**
 * Takes slots back to back on the real clock for `ms`, each limiter `budgetMs` a call, sleeping each wait; answers each
 * limiter's slots in real time (Date.now() when granted + the wait), whatever clock the limiter itself reads.
 */
async function saturateReal(limiters: FleetLimiter[], ms: number, budgetMs: number): Promise<number[][]> {
  const until = Date.now() + ms;
  return Promise.all(
    limiters.map(async (l) => {
      const slots: number[] = [];
      while (Date.now() < until) {
        try {
          // As the client does: a slot the call would leave more than the late allowance after is given up.
          const wait = await l.reserve(budgetMs);
          const [slot, shift] = [Date.now() + wait, l.clockShiftMs()];
          await sleep(Math.max(0, wait));
          if (Date.now() - slot + l.clockShiftMs() - shift > l.lateAllowanceMs) {
            l.missed();
            continue;
          }
          slots.push(Math.max(slot, Date.now()));
        } catch (error) {
          if (!(error instanceof VolcBudgetExhaustedError)) throw error;
          await sleep(5);
        }
      }
      return slots;
    }),
  );
}

const skewed = (ms: number) => () => Date.now() + ms;

/** The store, timing each call from this process (its scheduling included): the longest round trip seen. */
function timed(store: QuotaStore): { store: QuotaStore; longestMs: () => number } {
  let longest = 0;
  const time = async <T>(call: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await call();
    } finally {
      longest = Math.max(longest, performance.now() - started);
    }
  };
  return {
    store: {
      take: (request, signal) => time(() => store.take(request, signal)),
      join: (pushMs, stamp, toleranceMs, signal) => time(() => store.join(pushMs, stamp, toleranceMs, signal)),
      read: (signal) => time(() => store.read(signal)),
    },
    longestMs: () => longest,
  };
}

/** A store DynamoDB throttles (every read and join) until `until` (epoch ms). */
const throttledUntil = (real: QuotaStore, until: number) =>
  gatedStore(real, (kind) =>
    kind !== 'take' && Date.now() < until
      ? rejectedAs('ThrottlingException', 'Rate of requests exceeds the allowed throughput')
      : undefined,
  );

describe('FleetLimiter', () => {
  // What the fleet is granted (54/s, fair shares, the archiver's reserve) is measured on a virtual clock, where this
  // machine's speed cannot move it: fleet-limiter-shares.test.ts. Here, on dynalite and the real clock, the bound.
  it('holds six instances on dynalite to 60 calls in any second, on the real clock', async () => {
    const store = await freshStore();
    const fleet = Array.from({ length: 6 }, () => limiter(store, 'lookup', { maxWaitMs: 250 }));
    const slots = (await saturateReal(fleet, 2_000, 5_000)).flat().sort((a, b) => a - b);
    expect(slots.length).toBeGreaterThan(0);
    expect(busiestSecond(slots)).toBeLessThanOrEqual(60);
  }, 20_000);

  it('holds instances whose clocks are 300 ms apart to the bound, and to one fleet time within a table round trip', async () => {
    // Fleet time lags the fastest clock by up to a table round trip (asserted below against the longest one seen, which
    // in this one busy process, four limiters saturating an in-process dynalite, is some 20 ms); the network allowance
    // covers it and this loop's own lateness here, where calls go nowhere (deployed, QUOTA_NETWORK_MS covers it).
    const table = timed(await freshStore());
    const skews = [0, 0, -300, 300];
    const timing = { lateMs: TIMING.lateMs, networkMs: 40 };
    const fleet = skews.map((offset) => limiter(table.store, 'lookup', { maxWaitMs: 250, now: skewed(offset), timing }));
    const all = (await saturateReal(fleet, 2_000, 5_000)).flat().sort((a, b) => a - b);
    expect(all.length).toBeGreaterThan(0);
    expect(busiestSecond(all)).toBeLessThanOrEqual(60);
    // They agree on fleet time: the fastest clock's, each within a table round trip of it.
    const fleetTimes = fleet.map((l) => l.fleetNow());
    expect(Math.max(...fleetTimes) - Math.min(...fleetTimes)).toBeLessThanOrEqual(table.longestMs());
    expect(Math.max(...fleetTimes) - Math.min(...fleetTimes)).toBeLessThan(300); // not the skew itself
  }, 20_000);

  it('answers a caller it cannot serve within its wait with a Retry-After, a refusal costing at most one read', async () => {
    // The limiter's clock stands still: how long this machine takes between the calls cannot move the next slot closer.
    const store = await freshStore();
    const at = Date.now();
    const l = limiter(store, 'lookup', { maxWaitMs: 0, now: () => at });
    await l.reserve(10_000); // the lookup share's slot
    await l.reserve(10_000); // the archiver's reserve, idle
    const error = await Promise.resolve(l.reserve(10_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VolcBudgetExhaustedError);
    expect((error as VolcBudgetExhaustedError).retryAfterMs).toBeGreaterThan(0);
    expect((error as VolcBudgetExhaustedError).retryAfterMs).toBeLessThanOrEqual(25);
    // Joining (a read and a write), a write per slot, and no call for the refusal: the state the last write returned,
    // less than a slot ago, rules it out (an older state would cost a read).
    expect(l.drainStats()).toMatchObject({ tokensTaken: 2, tokensDenied: 1, fallbacks: 0, tableCalls: 4 });
  });

  it('leases slots to callers waiting together, one write for them, and drops a leased slot rather than use it late', async () => {
    const store = await freshStore();
    let now = Date.UTC(2026, 11, 1);
    const hold = { share: 'lookup', op: 'restart', spanMs: 3_600_000, now, latest: now, at: now } as const;
    await store.take(hold, new AbortController().signal); // lookups hold their share for the next hour
    const l = limiter(store, 'archiver', { now: () => now, leaseSlots: 3 });
    await l.warm();
    const writes = () => server.counts.UpdateItem ?? 0;
    const before = writes();
    const spacing = (1000 + TIMING.lateMs + TIMING.networkMs) / 12;
    const waits = await Promise.all([l.reserve(5_000), l.reserve(5_000), l.reserve(5_000)]);
    expect(writes()).toBe(before + 1); // one write leased the three archiver slots
    const lead = waits[0]!;
    for (const [i, wait] of waits.entries()) expect(wait - lead).toBeCloseTo(i * spacing, 2);
    // A caller that cannot wait for the second leased slot leaves it leased ...
    const [, tooSoon] = await Promise.allSettled([l.reserve(5_000), l.reserve(0), l.reserve(5_000)]);
    expect(tooSoon.status).toBe('rejected');
    now += 10_000; // ... and in the past now: dropped, not used late
    expect(await l.reserve(5_000)).toBeLessThanOrEqual(lead);
  });

  it('serves callers waiting in one instance lowest priority first (the archiver: nearest deadline first)', async () => {
    const real = await freshStore();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: QuotaStore = {
      read: real.read.bind(real),
      join: real.join.bind(real),
      take: async (...args) => {
        await gate;
        return real.take(...args);
      },
    };
    const l = limiter(slow, 'lookup');
    const order: number[] = [];
    const first = l.reserve(5_000, 50).then(() => order.push(50));
    const rest = [30, 90, 10].map((p) => l.reserve(5_000, p).then(() => order.push(p)));
    release();
    await Promise.all([first, ...rest]);
    expect(order).toEqual([10, 30, 50, 90]);
  });

  it('drops a caller that gave up while queued: no table call and no slot for it', async () => {
    // Prepare: the first caller's write is slow, so the second waits in the queue behind it.
    const store = await freshStore();
    const l = limiter(store, 'lookup', { storeTimeoutMs: 5_000 });
    await l.warm();
    l.drainStats();
    const writesBefore = server.counts.UpdateItem ?? 0;
    server.inject({ kind: 'latency', operation: 'UpdateItem', latencyMs: 400, times: 1 });
    const gaveUp = new AbortController();
    // Act
    const first = l.reserve(5_000);
    const second = Promise.resolve(l.reserve(5_000, undefined, gaveUp.signal));
    gaveUp.abort();
    // Assess
    await expect(second).rejects.toBeInstanceOf(VolcDeadlineError);
    await first;
    expect(server.counts.UpdateItem! - writesBefore).toBe(1);
    expect(l.drainStats()).toMatchObject({ tokensTaken: 1, tokensDenied: 0, fallbacks: 0 }); // gave up: not refused
  });

  it("cuts a caller's table call when the caller gives up, without falling back or counting a table failure", async () => {
    // Prepare
    const store = await freshStore();
    const l = limiter(store, 'lookup', { storeTimeoutMs: 5_000 });
    await l.warm();
    l.drainStats();
    const [abandonedBefore, writesBefore] = [server.abandoned, server.counts.UpdateItem ?? 0];
    server.inject({ kind: 'latency', operation: 'UpdateItem', latencyMs: 3_000, times: 1 });
    const gaveUp = new AbortController();
    // Act
    const taking = Promise.resolve(l.reserve(5_000, undefined, gaveUp.signal));
    await vi.waitFor(() => expect(server.counts.UpdateItem).toBeGreaterThan(writesBefore));
    await sleep(50);
    gaveUp.abort();
    // Assess
    await expect(taking).rejects.toBeInstanceOf(VolcDeadlineError);
    await vi.waitFor(() => expect(server.abandoned).toBe(abandonedBefore + 1));
    expect(l.drainStats()).toMatchObject({ tokensTaken: 0, tokensDenied: 0, fallbacks: 0 });
    server.clearFaults();
    expect(await l.reserve(1_000)).toBeLessThan(50); // not degraded: the table still serves it
  });

  it("leaves a join started by a caller that gave up at the next caller's own budget, not the first one's", async () => {
    // Prepare: a cold instance whose table answers its join (the first read) only after 5 s.
    const real = await freshStore();
    let joinAnswered = false;
    const store: QuotaStore = {
      read: async (signal) => {
        await sleep(5_000);
        joinAnswered = true;
        return real.read(signal);
      },
      take: (request, signal) => real.take(request, signal),
      join: (pushMs, stamp, toleranceMs, signal) => real.join(pushMs, stamp, toleranceMs, signal),
    };
    const l = limiter(store, 'lookup', { storeTimeoutMs: 10_000 });
    const gaveUp = new AbortController();
    const first = Promise.resolve(l.reserve(10_000, undefined, gaveUp.signal));
    await sleep(30); // its join has begun
    gaveUp.abort();
    await expect(first).rejects.toBeInstanceOf(VolcDeadlineError);
    // Act: the next caller may wait 300 ms.
    const second = await Promise.resolve(l.reserve(300)).then(
      () => 'granted',
      (error: unknown) => (error as Error).name,
    );
    // Assess: it was answered before the join it found came back, and not with a slot from nowhere.
    expect(joinAnswered).toBe(false);
    expect(second).toBe('VolcBudgetExhaustedError');
  });

  it('lets a caller with more time join again when DynamoDB throttled the join begun at cold start for all its time', async () => {
    // Prepare: throttled for 1.3 s, longer than a join may take (a first call and a write: 1.1 s here).
    const l = limiter(throttledUntil(await freshStore(), Date.now() + 1_300), 'lookup', { storeTimeoutMs: 100 });
    const warmed = l.warm();
    // Act: a caller that may wait 3 s finds the join begun.
    const granted = await Promise.resolve(l.reserve(3_000)).then(
      () => 'granted',
      (error: unknown) => (error as Error).name,
    );
    await warmed;
    // Assess: the join it found was refused; the caller joined again within its own time.
    expect(granted).toBe('granted');
    expect(l.drainStats()).toMatchObject({ tokensTaken: 1, fallbacks: 0 });
  });

  it('refuses callers with less time than the join while DynamoDB throttles it, never sending them to the fallback', async () => {
    // Prepare
    const warnings: unknown[] = [];
    const store = throttledUntil(await freshStore(), Date.now() + 1_500);
    const l = limiter(store, 'lookup', { storeTimeoutMs: 200, onDegraded: (error) => warnings.push(error) });
    void l.warm();
    // Act: one lookup after the other, each with 500 ms.
    const outcomes: string[] = [];
    for (let caller = 0; caller < 2; caller++) {
      outcomes.push(
        await Promise.resolve(l.reserve(500)).then(
          () => 'granted',
          (error: unknown) => (error as Error).name,
        ),
      );
    }
    // Assess
    expect(outcomes).toEqual([VolcBudgetExhaustedError.name, VolcBudgetExhaustedError.name]);
    expect(l.drainStats()).toMatchObject({ tokensDenied: 2, fallbacks: 0 });
    expect(warnings).toEqual([]);
  });

  it("retries DynamoDB throttling within the caller's budget, never falling back for it", async () => {
    const store = await freshStore();
    const l = limiter(store, 'lookup', { maxWaitMs: 250 });
    await l.warm();
    l.drainStats();
    server.throttle('ProvisionedThroughputExceededException', 2);
    server.throttle('ThrottlingException', 1);
    expect(await l.reserve(1_000)).toBeLessThan(50);
    expect(l.drainStats()).toMatchObject({ tokensTaken: 1, fallbacks: 0, tableCalls: 4 });
    // Throttled for longer than the caller can wait: refused (429), not the per-instance fallback.
    server.throttle('ThrottlingException', 1_000);
    await expect(Promise.resolve(l.reserve(100))).rejects.toBeInstanceOf(VolcBudgetExhaustedError);
    server.clearThrottling();
    expect(l.drainStats()).toMatchObject({ tokensTaken: 0, tokensDenied: 1, fallbacks: 0 });
  });

  it('falls back to its own rate when the table does not answer (all callers from the second time), logs once, recovers', async () => {
    const real = await freshStore();
    let down = false;
    const hanging = new Promise<never>(() => undefined);
    const flaky: QuotaStore = {
      take: (...args) => (down ? hanging : real.take(...args)),
      read: (...args) => (down ? hanging : real.read(...args)),
      join: (...args) => (down ? hanging : real.join(...args)),
    };
    const logs: string[] = [];
    const l = limiter(flaky, 'lookup', {
      storeTimeoutMs: 50,
      onDegraded: () => logs.push('degraded'),
      onRecovered: () => logs.push('recovered'),
    });
    await l.warm(); // joined while the table answered: the next calls get storeTimeoutMs, not a first call's second
    down = true;
    const waits: number[] = [];
    for (let i = 0; i < 2; i++) {
      const started = Date.now();
      waits.push(await l.reserve(1_000));
      expect(Date.now() - started).toBeLessThan(1_000); // never blocked past the caller's budget
    }
    expect(waits[0]).toBe(0);
    expect(waits[1]).toBeGreaterThan(0); // the fallback bucket: 2 per second, burst 1
    // Degraded now: the next caller goes to the fallback bucket at once.
    await expect(Promise.resolve(l.reserve(100))).rejects.toBeInstanceOf(VolcBudgetExhaustedError);
    down = false;
    await sleep(1_050);
    expect(await l.reserve(1_000)).toBeLessThan(50);
    expect(logs).toEqual(['degraded', 'recovered']);
    expect(l.drainStats()).toMatchObject({ fallbacks: 2, tokensTaken: 3, tokensDenied: 1 });
  });
});
