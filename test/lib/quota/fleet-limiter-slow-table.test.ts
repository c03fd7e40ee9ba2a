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
import { MemoryQuotaStore } from '../../quota/memory-quota-store.ts';

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 11, 1, 12), toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A cold lookup instance (QUOTA_TIMEOUT_MS 200, LOOKUP_QUOTA_WAIT_MS 250) and the warnings it logs. */
function coldLookup(store: QuotaStore) {
  const warnings: string[] = [];
  const limiter = new FleetLimiter({
    store,
    role: 'lookup',
    shares: { accountQps: 60, archiveQps: 12 },
    storeTimeoutMs: 200,
    maxWaitMs: 250,
    fallback: new TokenBucket({ ratePerSecond: 100, burst: 10, now: () => Date.now() }),
    now: () => Date.now(),
    onDegraded: (error) => warnings.push((error as Error).message),
  });
  return { limiter, warnings };
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

const hanging: QuotaStore = {
  read: () => new Promise(() => undefined),
  take: () => new Promise(() => undefined),
  join: () => new Promise(() => undefined),
};

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

  it('sends every caller to the fallback, and warns once, when the table has failed two joins in a row', async () => {
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
    // Assess: refused while the first joins might still answer; from the second failure on (at 2 s), the fallback.
    const fellBack = outcomes.filter(({ outcome }) => typeof outcome === 'number');
    expect(outcomes.filter(({ at }) => at >= 2_100).every(({ outcome }) => typeof outcome === 'number')).toBe(true);
    expect(fellBack.length).toBe(limiter.drainStats().fallbacks);
    expect(outcomes.filter(({ at }) => at < 1_000).map(({ outcome }) => outcome)).toContain(VolcBudgetExhaustedError.name);
    expect(warnings).toHaveLength(1);
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
