/**
 * The fleet-wide limiter on a quota table that is slow or does not answer, on a virtual clock: one
 * limiter (a cold Lambda instance) over MemoryQuotaStore, whose calls take the virtual time each
 * case gives them. Whether a caller is refused, served by the table or sent to the fallback, and
 * where its slot lies, does not depend on this machine's speed.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { VolcBudgetExhaustedError } from '../../../lib/errors.ts';
import { FleetLimiter } from '../../../lib/quota/fleet-limiter.ts';
import type { QuotaStore } from '../../../lib/quota/quota-store.ts';
import { TokenBucket } from '../../../lib/volc/client.ts';
import { gatedStore, hang, rejectedAs } from '../../quota/gated-store.ts';
import { MemoryQuotaStore } from '../../quota/memory-quota-store.ts';

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 11, 1, 12), toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/**
 * A cold lookup instance (QUOTA_TIMEOUT_MS 200, LOOKUP_QUOTA_WAIT_MS 250), what it logs, and its
 * clock: `now` by default the virtual one, or one that also moves while the instance is frozen.
 */
function coldLookup(store: QuotaStore, now: () => number = () => Date.now()) {
  const warnings: string[] = [];
  const recoveries: number[] = [];
  const limiter = new FleetLimiter({
    store,
    role: 'lookup',
    shares: { accountQps: 60, archiveQps: 12 },
    storeTimeoutMs: 200,
    maxWaitMs: 250,
    fallback: new TokenBucket({ ratePerSecond: 100, burst: 10, now }),
    now,
    onDegraded: (error) => warnings.push((error as Error).message),
    onRecovered: () => recoveries.push(now()),
  });
  return { limiter, warnings, recoveries };
}

/** The wait `reserve` answers, or the name of its error, the virtual clock run 10 ms at a time until it does. */
async function reserveNow(limiter: FleetLimiter, budgetMs: number): Promise<number | string> {
  let outcome: number | string | undefined;
  void Promise.resolve(limiter.reserve(budgetMs)).then(
    (wait) => (outcome = wait),
    (error: unknown) => (outcome = (error as Error).name),
  );
  while (outcome === undefined) await vi.advanceTimersByTimeAsync(10);
  return outcome;
}

/** Calls that take `ms` each, in order, then `rest` each. */
const roundTrips = (ms: number[], rest: number) => () => ms.shift() ?? rest;

const hanging: QuotaStore = { read: hang, take: hang, join: hang };

/** A table that does not answer until `healed()` says it does, then answers in 150 ms. */
const healing = (healed: () => boolean) => gatedStore(new MemoryQuotaStore(() => 150), () => (healed() ? undefined : hang()));

/** A table whose calls fail (an HTTP 500) where `fails` says so (the call's kind, its number from 1), and answer in 10 ms. */
const failingWhere = (fails: (kind: keyof QuotaStore, call: number) => boolean) =>
  gatedStore(new MemoryQuotaStore(() => 10), (kind, call) =>
    fails(kind, call) ? rejectedAs('InternalServerError', 'Internal server error') : undefined,
  );

/** A table whose calls numbered in `failing` (from 1) fail, and the rest answer in 10 ms. */
const failingCalls = (...failing: number[]) => failingWhere((_, call) => failing.includes(call));

describe('FleetLimiter on a slow quota table', () => {
  it('refuses a caller whose budget ends while a slow first read may still answer; the table serves the next', async () => {
    // Prepare: the first call opens the connection and takes 900 ms, within the first call's 1 s.
    const { limiter, warnings } = coldLookup(new MemoryQuotaStore(roundTrips([900], 5)));
    const warmed = limiter.warm();
    // Act
    const cut = await reserveNow(limiter, 400);
    await vi.advanceTimersByTimeAsync(700);
    await warmed;
    const served = await reserveNow(limiter, 400);
    // Assess
    expect(cut).toBe(VolcBudgetExhaustedError.name);
    expect(served).toBeTypeOf('number');
    expect(limiter.drainStats()).toMatchObject({ tokensTaken: 1, tokensDenied: 1, fallbacks: 0 });
    expect(warnings).toEqual([]);
  });

  it('refuses callers while a join may answer, and falls back for a second after two failed joins, warning once', async () => {
    // Prepare
    const { limiter, warnings } = coldLookup(hanging);
    void limiter.warm();
    // Act: one caller at a time (a Lambda instance serves one lookup at a time), each with 300 ms,
    // less than a join may take, 100 ms apart, for 4 s.
    const started = Date.now();
    const outcomes: Array<{ at: number; outcome: number | string }> = [];
    while (Date.now() - started < 4_000) {
      const at = Date.now() - started;
      outcomes.push({ at, outcome: await reserveNow(limiter, 300) });
      await vi.advanceTimersByTimeAsync(100);
    }
    // Assess: joins fail at 1 s (the first call's time) and about 2.1 s; degraded from then for a second.
    const during = (from: number, to: number) => outcomes.filter(({ at }) => at >= from && at < to).map(({ outcome }) => outcome);
    expect(during(0, 1_000)).toContain(VolcBudgetExhaustedError.name);
    expect(during(2_200, 3_000).length).toBeGreaterThan(0);
    expect(during(2_200, 3_000).every((outcome) => typeof outcome === 'number')).toBe(true);
    expect(outcomes.filter(({ outcome }) => typeof outcome === 'number').length).toBe(limiter.drainStats().fallbacks);
    expect(warnings).toHaveLength(1);
  });

  it('uses the table again at the first lookup after it heals, though the instance was frozen between lookups', async () => {
    // Prepare: a lookup every 5 s of the instance's clock, frozen in between (its clock moves, no timer runs);
    // the table hangs for the first 10 s.
    let frozenMs = 0;
    const now = () => Date.now() + frozenMs;
    const started = now();
    const { limiter, warnings, recoveries } = coldLookup(
      healing(() => now() - started >= 10_000),
      now,
    );
    void limiter.warm();
    // Act
    const served: Array<{ at: number; fromTable: boolean }> = [];
    while (now() - started < 30_000) {
      const at = now() - started;
      const wait = await reserveNow(limiter, 4_999);
      if (typeof wait === 'number') await vi.advanceTimersByTimeAsync(Math.max(0, wait) + 100); // the call to Volcengine
      served.push({ at, fromTable: typeof wait === 'number' && limiter.drainStats().fallbacks === 0 });
      frozenMs += 5_000;
    }
    // Assess
    expect(served.filter(({ at }) => at < 10_000).some(({ fromTable }) => fromTable)).toBe(false);
    expect(served.filter(({ at }) => at >= 10_000).every(({ fromTable }) => fromTable)).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(recoveries).toHaveLength(1);
  });

  it('counts a failed join once, though a caller waited for it: the next caller is served by the table', async () => {
    // Prepare: the join's first read fails; the caller waiting for it falls back.
    const { limiter, warnings } = coldLookup(failingCalls(1));
    void limiter.warm();
    const first = await reserveNow(limiter, 3_000);
    // Act
    const second = await reserveNow(limiter, 3_000);
    // Assess: one failure is not two in a row: no degraded mode, the second from the table.
    expect([typeof first, typeof second]).toEqual(['number', 'number']);
    expect(limiter.drainStats()).toMatchObject({ tokensTaken: 2, fallbacks: 1 });
    expect(warnings).toEqual([]);
  });

  it('ends the failures in a row when a join succeeds: one failure before it and one after are not two', async () => {
    // Prepare: warm's join fails at its read (call 1); the next join answers (calls 2, 3); the slot write after it fails (call 4).
    const { limiter, warnings } = coldLookup(failingCalls(1, 4));
    await limiter.warm();
    const first = await reserveNow(limiter, 3_000);
    // Act
    const second = await reserveNow(limiter, 3_000);
    // Assess
    expect([typeof first, typeof second]).toEqual(['number', 'number']);
    expect(limiter.drainStats()).toMatchObject({ tokensTaken: 2, fallbacks: 1 });
    expect(warnings).toEqual([]);
  });

  it('logs no recovery for a join that answers while every slot write still fails', async () => {
    // Prepare: the first two joins fail at their read (degraded); later joins answer, slot writes never do.
    const { limiter, warnings, recoveries } = coldLookup(failingWhere((kind, call) => kind === 'take' || call <= 2));
    void limiter.warm();
    // Act: a lookup every 300 ms for 5 s.
    const outcomes: Array<number | string> = [];
    for (let caller = 0; caller < 16; caller++) {
      outcomes.push(await reserveNow(limiter, 3_000));
      await vi.advanceTimersByTimeAsync(300);
    }
    // Assess: every slot from the fallback, and never said to have recovered.
    const granted = outcomes.filter((outcome) => typeof outcome === 'number').length;
    expect(granted).toBeGreaterThan(0);
    expect(limiter.drainStats()).toMatchObject({ tokensTaken: granted, fallbacks: granted });
    expect(warnings).toHaveLength(1);
    expect(recoveries).toEqual([]);
  });

  it('gives the join time for a first call of up to a second and then a write', async () => {
    // Prepare: the first call (which opens the connection) takes 950 ms, the write after it 150 ms.
    const { limiter } = coldLookup(new MemoryQuotaStore(roundTrips([950, 150], 10)));
    void limiter.warm();
    // Act
    const wait = await reserveNow(limiter, 3_000);
    // Assess: one join (a read, a write) and the slot's write; the join was not cut short and begun again.
    expect(wait).toBeTypeOf('number');
    expect(limiter.drainStats()).toMatchObject({ tokensTaken: 1, fallbacks: 0, tableCalls: 3 });
  });

  it('places a restarted slot after the answer when round trips alternate 120 and 160 ms', async () => {
    // Prepare: the median of the last round trips would often be 120 ms, 40 ms short of the next answer.
    let calls = 0;
    const { limiter } = coldLookup(new MemoryQuotaStore(() => (++calls % 2 ? 120 : 160)));
    await Promise.all([limiter.warm(), vi.advanceTimersByTimeAsync(400)]);
    // Act: callers far enough apart that each restarts the share.
    const waits: Array<number | string> = [];
    for (let caller = 0; caller < 8; caller++) {
      waits.push(await reserveNow(limiter, 3_000));
      await vi.advanceTimersByTimeAsync(500);
    }
    // Assess: no slot lies so far before its answer that the call would give it up.
    expect(waits.every((wait) => typeof wait === 'number' && wait >= -limiter.lateAllowanceMs)).toBe(true);
  });

  it('places a restarted slot where the write comes back, after an idle spell too', async () => {
    // Prepare: every call takes 150 ms; the instance joins, then nothing happens for 3 s.
    const { limiter } = coldLookup(new MemoryQuotaStore(() => 150));
    const warmed = limiter.warm();
    await vi.advanceTimersByTimeAsync(400);
    await warmed;
    await vi.advanceTimersByTimeAsync(3_000);
    // Act
    const wait = await reserveNow(limiter, 3_000);
    // Assess: the slot is not behind the answer (late, it would be given up).
    expect(wait).toBeGreaterThanOrEqual(0);
  });

  it('places a restarted slot no later than the caller may wait', async () => {
    // Prepare: the join's write took 190 ms.
    const { limiter } = coldLookup(new MemoryQuotaStore(roundTrips([5, 190], 5)));
    const warmed = limiter.warm();
    await vi.advanceTimersByTimeAsync(400);
    await warmed;
    // Act
    const wait = await reserveNow(limiter, 150);
    // Assess
    expect(wait).toBeLessThanOrEqual(150);
  });

  it('does not let one slow answer set where restarted slots lie', async () => {
    // Prepare: 10 ms a call, but one of 180 ms (a busy moment); the share idles between callers.
    const { limiter } = coldLookup(new MemoryQuotaStore(roundTrips([10, 10, 10, 180, 10], 10)));
    const warmed = limiter.warm();
    await vi.advanceTimersByTimeAsync(400);
    await warmed;
    const waits: Array<number | string> = [];
    // Act
    for (let caller = 0; caller < 4; caller++) {
      waits.push(await reserveNow(limiter, 3_000));
      await vi.advanceTimersByTimeAsync(300);
    }
    // Assess: the slot after the slow answer lies a usual round trip ahead, not 180 ms.
    expect(waits.at(-1)).toBeTypeOf('number');
    expect(waits.at(-1)).toBeLessThan(30);
  });
});
