/**
 * The fleet-wide limiter: every instance of every function takes its call slots from the quota
 * item in DynamoDB (lib/quota/slots.ts, quota-store.ts), so the account's GetSegmentTask quota
 * holds however many Lambda instances run, whatever their clocks say (fleet time). No slot idles
 * while anyone waits: lookups take the archiver's reserve while it has no due work, and the archiver
 * takes lookup slots lookups leave idle. Callers waiting in one instance are served lowest priority
 * first (the archiver: nearest deadline first).
 *
 * Each slot costs one conditional write, planned on the item as the last answer returned it; a
 * refusal costs one consistent read (the state last seen ruled the slot out; the read confirms it
 * on the current state), or nothing when the state was seen less than three slots ago. DynamoDB
 * throttling is retried with backoff within the caller's budget. Only when the table times out or
 * fails does the limiter fall back to a conservative per-instance rate (twice in a row: every
 * caller, for a second; it logs that once per minute and counts every fallback). A caller's
 * deadline (the AbortSignal it reserves with) drops it from the queue and cuts its table calls.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { untilAborted } from '../deadline.ts';
import { VolcBudgetExhaustedError, VolcDeadlineError } from '../errors.ts';
import type { RateLimiter } from '../volc/client.ts';
import { isTableThrottling, type QuotaStore, type TakeRequest } from './quota-store.ts';
import {
  CONTENTION_MARGIN_SLOTS,
  DEFAULT_MAX_SKEW_MS,
  DEFAULT_TIMING,
  DEMAND_HOLD_MS,
  applyTake,
  joinPushMs,
  planTakes,
  ratchetOffset,
  retryAfterMs,
  shareRate,
  slotSpacingMs,
  type QuotaShares,
  type QuotaState,
  type Share,
  type SlotTiming,
  type TakePlan,
} from './slots.ts';

export interface QuotaStats {
  tokensTaken: number;
  tokensDenied: number;
  /** Sum of the waits for granted slots. */
  waitMs: number;
  /** Tokens granted by the per-instance fallback because DynamoDB did not answer in time. */
  fallbacks: number;
  /** Slots given up because the call would have left more than the late allowance after them. */
  slotsMissed: number;
  /** Table calls made (reads and writes, failed ones included). */
  tableCalls: number;
}

export interface FleetLimiterOptions {
  store: QuotaStore;
  role: Share;
  shares: QuotaShares;
  timing?: SlotTiming;
  /** Budget of one DynamoDB call. */
  storeTimeoutMs: number;
  /** The per-instance limiter used while DynamoDB is unavailable. */
  fallback: RateLimiter;
  /** The longest a caller waits for a slot, whatever budget it has left (LOOKUP_QUOTA_WAIT_MS). */
  maxWaitMs?: number;
  /**
   * Consecutive slots of its own share taken per table write, at most (default 1), and never more
   * than callers waiting. Right for a steady caller with several calls in flight, like the
   * archiver: a leased slot it does not use in time is dropped, never used late.
   */
  leaseSlots?: number;
  /** This instance's clock (epoch ms, default monotonic); fleet time is this plus an offset learnt from the table. */
  now?: () => number;
  /** The most two instances' clocks may differ by (QUOTA_MAX_SKEW_MS). */
  maxSkewMs?: number;
  /** Source of randomness in [0, 1), for backoff. */
  random?: () => number;
  onDegraded?: (error: unknown) => void;
  onRecovered?: () => void;
}

const DEGRADED_RETRY_MS = 1_000;
/**
 * How much older than the item's stamp a writer's own may be: views of fleet time differ by about
 * a table round trip (more on a busy machine), which is let be; a writer lagging further (a clock
 * that a newer instance's leads) is refused with the item and learns fleet time from it first.
 */
const STAMP_TOLERANCE_MS = 50;
/** The first table call of an instance opens the connection and loads credentials: it may take this long. */
const FIRST_CALL_TIMEOUT_MS = 1_000;
/** What a table call leaves of the caller's budget, so that the fallback still answers within it. */
const FALLBACK_HEADROOM_MS = 20;
const DEGRADED_LOG_EVERY_MS = 60_000;
/**
 * Conditional writes per slot at most: each failure returns the item, so the next one is planned on
 * fresh state. A lookup refused is told to come back; the archiver, whose calls have long budgets and
 * deadlines, keeps trying within its budget.
 */
const MAX_WRITES: Record<Share, number> = { lookup: 3, archiver: 20 };
const THROTTLE_BACKOFF_MS = { base: 10, max: 200 };
/** How many of its share's slots the state last seen stands for a read, for a refusal. */
const FRESH_STATE_SLOTS = 3;
/**
 * Table round trips remembered (the last few, however old: an idle spell does not make the table
 * faster). The lead is the second slowest of them (the slowest while fewer than three are known),
 * so that the answer is back before its slot, and one slow answer (a busy moment) does not set it;
 * a lead shorter than the table's round trips gives every restarted slot up, the answer coming back
 * too late for it, and for the next one's.
 */
const ROUND_TRIPS_KEPT = 5;

/** The second slowest of the round trips, or the slowest of fewer than three; 0 with none. */
function expectedRoundTrip(roundTrips: readonly number[]): number {
  const slowestFirst = [...roundTrips].sort((a, b) => b - a);
  return (slowestFirst.length >= 3 ? slowestFirst[1] : slowestFirst[0]) ?? 0;
}

/**
 * A table failure met by the join, counted toward degraded mode where it happened (#join): its
 * waiters fall back without counting it again.
 */
class JoinFailure extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'JoinFailure';
  }
}

interface Waiter {
  /** What the caller has left of its deadline: bounds the table calls. */
  budgetMs: number;
  /** The longest it may wait for a slot. */
  maxWaitMs: number;
  priority: number;
  /** The caller's deadline: once it aborts, the caller is dropped from the queue and its table call is cut. */
  signal: AbortSignal | undefined;
  resolve: (waitMs: number) => void;
  reject: (error: unknown) => void;
}

/**
 * A signal that aborts `ms` from now, one more turn of the event loop later (setImmediate, after
 * I/O): when this process did not run at the deadline (a busy machine), an answer that arrived
 * meanwhile is read first, and a slow process is not taken for a failing table.
 */
function expiring(ms: number): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => setImmediate(() => controller.abort()), ms);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

const pushed = (state: QuotaState, push: number, stamp: number): QuotaState => ({
  ...state,
  lookup: (state.lookup ?? 0) + push,
  archiver: (state.archiver ?? 0) + push,
  stamp,
});

const emptyStats = (): QuotaStats => ({ tokensTaken: 0, tokensDenied: 0, waitMs: 0, fallbacks: 0, slotsMissed: 0, tableCalls: 0 });

export class FleetLimiter implements RateLimiter {
  readonly #options: FleetLimiterOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #timing: SlotTiming;
  readonly #spacing: Record<Share, number>;
  readonly #queue: Waiter[] = [];
  #stats = emptyStats();
  #pumping = false;
  #degradedUntil = 0;
  #failuresInRow = 0;
  #degradedLoggedAt = Number.NEGATIVE_INFINITY;
  #degraded = false;
  #answered = false;
  /** Fleet time minus this instance's clock: only ever raised, by the stamps the table returns. */
  #offset = 0;
  /** The item as last seen (fleet time): a lower bound on its frontiers and demand. */
  #state: QuotaState | undefined;
  /** When the state was last seen, and when a caller was last refused on it without a call (this instance's clock). */
  #seenAt = Number.NEGATIVE_INFINITY;
  #refusedFreeAt = Number.NEGATIVE_INFINITY;
  /** The join, once it started, and until when it may take (this instance's clock); settled with the first table answers. */
  #joining: { done: Promise<void>; until: number } | undefined;
  #joined = false;
  /** Slots of the own share leased by the last write and not used yet, earliest first (fleet time). */
  #leased: number[] = [];
  /** The last table round trips (ms): a restarted share's slot lies where its write's answer is expected. */
  readonly #roundTrips: number[] = [];

  constructor(options: FleetLimiterOptions) {
    this.#options = options;
    // Monotonic: a clock stepped forward would lead the fleet's without ever joining again.
    this.#now = options.now ?? (() => performance.timeOrigin + performance.now());
    this.#random = options.random ?? Math.random;
    this.#timing = options.timing ?? DEFAULT_TIMING;
    this.#spacing = {
      lookup: slotSpacingMs(shareRate(options.shares, 'lookup'), this.#timing),
      archiver: slotSpacingMs(shareRate(options.shares, 'archiver'), this.#timing),
    };
  }

  get lateAllowanceMs(): number {
    return this.#timing.lateMs;
  }

  /** Fleet time: this instance's clock plus what the table taught it. */
  fleetNow(): number {
    return this.#now() + this.#offset;
  }

  /** Joins the fleet now (at cold start), so the first slot does not wait for it. */
  async warm(): Promise<void> {
    try {
      await this.#join().done;
    } catch {
      // The first slot joins.
    }
  }

  /**
   * An instance's first table calls: read the item (fleet time, from its stamp), then stamp it and
   * move both frontiers by joinPushMs, in case this clock leads the fleet's. It has its own time,
   * enough for a first call (which opens the connection) and a write: begun by warm at cold start or
   * by a caller, it goes on when its callers leave. A table failure counts toward degraded mode
   * here, once, whether anyone still waits for it or not; success ends the failures in a row.
   */
  #join(): { done: Promise<void>; until: number } {
    if (this.#joining) return this.#joining;
    const { storeTimeoutMs } = this.#options;
    const until = this.#now() + Math.max(storeTimeoutMs, FIRST_CALL_TIMEOUT_MS) + storeTimeoutMs;
    const done = (async () => {
      const left = () => until - this.#now();
      this.#learn(await this.#call(left(), (signal) => this.#options.store.read(signal)));
      for (;;) {
        const stamp = this.fleetNow();
        const push = joinPushMs(this.#state?.stamp, stamp, this.#options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS);
        const result = await this.#call(left(), (signal) => this.#options.store.join(push, stamp, STAMP_TOLERANCE_MS, signal));
        this.#learn(result.before);
        // Refused: a newer instance's stamp lies ahead of ours; fleet time is learnt from it and the push computed again.
        if (!result.taken) continue;
        this.#state = pushed(this.#state ?? {}, push, stamp);
        this.#joined = true;
        // The table answered: the failures counted so far (a failed join before this one) are no longer
        // in a row. Not a recovery yet (nothing logged, degraded stays so): that is the first slot it grants.
        this.#failuresInRow = 0;
        return;
      }
    })().catch((error: unknown) => {
      this.#joining = undefined;
      // Throttled for longer than the join's time: a refusal, not an outage.
      if (error instanceof VolcBudgetExhaustedError) throw error;
      this.#enterDegraded(error);
      throw new JoinFailure(error);
    });
    this.#joining = { done, until };
    return this.#joining;
  }

  /**
   * Waits for the join (shared by every caller of this instance), the caller's own budget or
   * deadline at most. A caller whose budget ends while the join still has time is refused: it had
   * less time than the join may take, which says nothing of the table. A join that failed (or was
   * due and has not answered) sends its callers to the fallback; one refused because DynamoDB
   * throttled it for all its time refuses no caller with more: that caller joins again.
   */
  async #awaitJoin(budgetMs: number, signal: AbortSignal | undefined): Promise<void> {
    const until = this.#now() + budgetMs;
    for (;;) {
      const join = this.#join();
      try {
        return await this.#bounded(() => join.done, until - this.#now(), signal, ' the join', join.until > until);
      } catch (error) {
        if (error instanceof VolcBudgetExhaustedError && join.until < until && this.#now() < until) continue;
        const settled = error instanceof VolcBudgetExhaustedError || error instanceof VolcDeadlineError || error instanceof JoinFailure;
        // Cut when the join was due: its failure is on its way, and is counted when it comes.
        throw settled ? error : new JoinFailure(error);
      }
    }
  }

  /**
   * `work`, given a signal that aborts when `budgetMs` have passed (see expiring) or the caller
   * gives up, whichever is first, and left then if it ignores its signal. Left: VolcDeadlineError
   * when the caller gave up; a refusal when `callerBound` (the caller had less time than the work
   * may take: not a sign that the table is failing); else the table's failure.
   */
  #bounded<T>(
    work: (signal: AbortSignal) => Promise<T>,
    budgetMs: number,
    caller: AbortSignal | undefined,
    what: string,
    callerBound: boolean,
  ): Promise<T> {
    const expiry = expiring(Math.max(0, budgetMs));
    const signal = caller ? AbortSignal.any([caller, expiry.signal]) : expiry.signal;
    const expired = () => {
      if (caller?.aborted) return new VolcDeadlineError();
      return callerBound
        ? new VolcBudgetExhaustedError(1000)
        : new Error(`the quota table did not answer${what} within ${Math.round(budgetMs)} ms`);
    };
    return untilAborted(work(signal), signal, expired).finally(expiry.clear);
  }

  /** The counters since the last call, for metrics. */
  drainStats(): QuotaStats {
    const stats = this.#stats;
    this.#stats = emptyStats();
    return stats;
  }

  missed(): void {
    this.#stats.slotsMissed++;
  }

  /** Fleet time's offset over this instance's clock: it only rises, as stamps show the fleet's time ahead of ours. */
  clockShiftMs(): number {
    return this.#offset;
  }

  /**
   * The wait until the slot, in ms (negative: the slot began that long ago), or
   * VolcBudgetExhaustedError; VolcDeadlineError once `signal` (the caller's deadline) aborts: a
   * caller that gave up is dropped from the queue, so no slot is taken for it, and its table call is cut.
   */
  reserve(budgetMs: number, priority = Number.POSITIVE_INFINITY, signal?: AbortSignal): Promise<number> {
    const maxWaitMs = Math.min(budgetMs, this.#options.maxWaitMs ?? Number.POSITIVE_INFINITY);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new VolcDeadlineError());
      const gaveUp = () => {
        const at = this.#queue.indexOf(waiter);
        if (at >= 0) this.#queue.splice(at, 1);
        reject(new VolcDeadlineError());
      };
      const settled = () => signal?.removeEventListener('abort', gaveUp);
      const waiter: Waiter = {
        budgetMs,
        maxWaitMs,
        priority,
        signal,
        resolve: (wait) => {
          settled();
          resolve(wait);
        },
        reject: (error) => {
          settled();
          reject(error);
        },
      };
      signal?.addEventListener('abort', gaveUp, { once: true });
      const at = this.#queue.findIndex((w) => w.priority > priority);
      this.#queue.splice(at < 0 ? this.#queue.length : at, 0, waiter);
      void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      await null; // callers reserving in the same tick queue up first: one write may lease slots for them all
      for (let waiter = this.#queue.shift(); waiter; waiter = this.#queue.shift()) {
        try {
          waiter.resolve(await this.#take(waiter));
        } catch (error) {
          waiter.reject(error);
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** One slot: the wait until it, or VolcBudgetExhaustedError. */
  async #take({ budgetMs, maxWaitMs, signal }: Waiter): Promise<number> {
    const leased = this.#leasedSlot(maxWaitMs);
    if (leased !== undefined) return this.#granted(leased);
    if (this.#now() < this.#degradedUntil) return this.#fallback(maxWaitMs);
    try {
      const slot = await this.#slot(budgetMs, maxWaitMs, signal);
      this.#recovered();
      return this.#granted(slot);
    } catch (error) {
      // The caller gave up, or was refused: neither says anything of the table.
      if (error instanceof VolcDeadlineError) throw error;
      if (error instanceof VolcBudgetExhaustedError) {
        this.#stats.tokensDenied++;
        throw error;
      }
      if (!(error instanceof JoinFailure)) this.#enterDegraded(error);
      return this.#fallback(maxWaitMs);
    }
  }

  #granted(at: number): number {
    const wait = at - this.fleetNow();
    this.#stats.tokensTaken++;
    this.#stats.waitMs += Math.max(0, wait);
    return wait;
  }

  /** A leased slot not yet late and within maxWait; slots left behind are dropped. */
  #leasedSlot(maxWaitMs: number): number | undefined {
    const now = this.fleetNow();
    while (this.#leased.length && this.#leased[0]! < now - this.#timing.lateMs) this.#leased.shift();
    return this.#leased.length && this.#leased[0]! <= now + maxWaitMs ? this.#leased.shift() : undefined;
  }

  /** The slot's fleet time: one conditional write, planned on the state last seen, and again on the state a failure returns. */
  async #slot(budgetMs: number, maxWaitMs: number, signal: AbortSignal | undefined): Promise<number> {
    const started = this.#now();
    const left = () => budgetMs - FALLBACK_HEADROOM_MS - (this.#now() - started);
    if (!this.#joined) await this.#awaitJoin(left(), signal);
    // The state last seen is as good as a read while it is younger than a few of the share's slots:
    // the frontier and the caller's latest slot move on together while the share is busy, so a
    // refusal it decides would be decided on the read too, give or take the random margin. Once per
    // such interval: a caller asking again at once (a client retrying without pause) waits for a
    // read, rather than spin on refusals that cost nothing.
    const window = FRESH_STATE_SLOTS * this.#spacing[this.#options.role];
    let fresh = this.#now() - this.#seenAt < window && this.#now() - this.#refusedFreeAt >= window;
    let readNow = false;
    for (let writes = 0; ; ) {
      const now = this.fleetNow();
      // A restarted share's slot lies where the write's answer is expected back, so that the call is not late for it.
      // No later than the caller's wait: a slot past it would be granted to a caller gone by then.
      const leadMs = Math.min(this.#options.storeTimeoutMs, maxWaitMs, expectedRoundTrip(this.#roundTrips));
      const marginSlots = CONTENTION_MARGIN_SLOTS.least + this.#random() * (CONTENTION_MARGIN_SLOTS.most - CONTENTION_MARGIN_SLOTS.least);
      const marginMs = marginSlots * this.#spacing[this.#options.role];
      const { lateMs } = this.#timing;
      const context = { role: this.#options.role, now, leadMs, lateMs, latest: now + maxWaitMs, marginMs, spacing: this.#spacing };
      const plan = planTakes(this.#state ?? {}, context)[0];
      if (!plan && !fresh) {
        // The state last seen rules every slot out, but it may be old: one consistent read (a read, not a write, per refusal).
        this.#learn(await this.#call(left(), (cut) => this.#options.store.read(cut), signal));
        fresh = true;
        readNow = true;
        continue;
      }
      if (!plan && writes === 0 && !readNow) this.#refusedFreeAt = this.#now();
      if (!plan || writes >= MAX_WRITES[this.#options.role]) {
        throw new VolcBudgetExhaustedError(retryAfterMs(this.#state?.[this.#options.role], now, maxWaitMs));
      }
      const request = this.#request(plan, now);
      const result = await this.#call(left(), (cut) => this.#options.store.take(request, cut), signal);
      writes++;
      fresh = true;
      this.#learn(result.before);
      if (!result.taken) continue;
      this.#state = applyTake(result.before ?? {}, plan, request.spanMs, now, request.demandUntil);
      const at = plan.op === 'advance' ? (result.before?.[plan.share] ?? now) : plan.at;
      for (let i = 1; i < request.spanMs / this.#spacing[plan.share] - 0.5; i++) this.#leased.push(at + i * this.#spacing[plan.share]);
      return at;
    }
  }

  #request(plan: TakePlan, now: number): TakeRequest {
    const { role, leaseSlots = 1 } = this.#options;
    // Leases are of the own share only, and no longer than the callers waiting for them.
    const slots = plan.share === role ? Math.max(1, Math.min(Math.floor(leaseSlots), this.#queue.length + 1)) : 1;
    return {
      share: plan.share,
      op: plan.op,
      spanMs: slots * this.#spacing[plan.share],
      now,
      at: plan.at,
      latest: plan.latest,
      stampToleranceMs: STAMP_TOLERANCE_MS,
      whenNoDemand: plan.whenNoDemand,
      // The archiver has due work while it takes slots: lookups give its reserve back within DEMAND_HOLD_MS.
      demandUntil: role === 'archiver' ? now + DEMAND_HOLD_MS : undefined,
    };
  }

  /** What a table answer teaches: the item as it was (a lower bound of what it is), and fleet time from its stamp. */
  #learn(state: QuotaState | undefined): void {
    this.#seenAt = this.#now();
    this.#offset = ratchetOffset(this.#offset, state?.stamp, this.#now());
    if (state) this.#state = state;
    else this.#state ??= {};
  }

  /**
   * One table call within the store timeout and what the caller has left; throttling is retried
   * with backoff within that, and a refusal once it is spent. `signal` (the caller's deadline) cuts it.
   */
  async #call<T>(leftMs: number, work: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const until = this.#now() + leftMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#withTimeout(until - this.#now(), work, signal);
      } catch (error) {
        if (!isTableThrottling(error)) throw error;
        const backoff = this.#random() * Math.min(THROTTLE_BACKOFF_MS.max, THROTTLE_BACKOFF_MS.base * 2 ** attempt);
        // Throttled for longer than the caller can wait: a refusal, not an outage.
        if (this.#now() + backoff >= until) throw new VolcBudgetExhaustedError(1000);
        await sleep(backoff, undefined, signal && { signal }).catch(() => {
          throw new VolcDeadlineError();
        });
      }
    }
  }

  /** `work` within the store timeout and what the caller has left, cut when the caller gives up (#bounded). */
  async #withTimeout<T>(budgetMs: number, work: (signal: AbortSignal) => Promise<T>, caller?: AbortSignal): Promise<T> {
    const timeout = this.#answered ? this.#options.storeTimeoutMs : Math.max(this.#options.storeTimeoutMs, FIRST_CALL_TIMEOUT_MS);
    // A caller with less time left than a table call may take is refused, not a sign that the table is failing.
    if (budgetMs < 1) throw new VolcBudgetExhaustedError(1000);
    if (caller?.aborted) throw new VolcDeadlineError();
    const budget = Math.min(timeout, budgetMs);
    this.#stats.tableCalls++;
    const sent = this.#now();
    // Cut at the caller's budget rather than the call's timeout: a refusal, not a table that fails.
    const result = await this.#bounded(work, budget, caller, '', budgetMs < timeout);
    // The first call opens the connection: not a round trip to plan slots by.
    if (this.#answered) this.#roundTrips.push(this.#now() - sent);
    if (this.#roundTrips.length > ROUND_TRIPS_KEPT) this.#roundTrips.shift();
    this.#answered = true;
    return result;
  }

  async #fallback(maxWaitMs: number): Promise<number> {
    let wait: number;
    try {
      wait = await this.#options.fallback.reserve(maxWaitMs);
    } catch (error) {
      this.#stats.tokensDenied++;
      throw error;
    }
    this.#stats.fallbacks++;
    this.#stats.tokensTaken++;
    this.#stats.waitMs += wait;
    return wait;
  }

  /**
   * A failed table call sends its caller to the fallback; a second one in a row sends every caller
   * there for DEGRADED_RETRY_MS. One slow answer (a busy machine, a blip) is not an outage.
   */
  #enterDegraded(error: unknown): void {
    if (++this.#failuresInRow < 2) return;
    const now = this.#now();
    this.#degradedUntil = now + DEGRADED_RETRY_MS;
    this.#degraded = true;
    if (now - this.#degradedLoggedAt >= DEGRADED_LOG_EVERY_MS) {
      this.#degradedLoggedAt = now;
      this.#options.onDegraded?.(error);
    }
  }

  #recovered(): void {
    this.#failuresInRow = 0;
    if (!this.#degraded) return;
    this.#degraded = false;
    this.#options.onRecovered?.();
  }
}
