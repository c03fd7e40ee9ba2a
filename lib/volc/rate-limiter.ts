/**
 * Token bucket with FIFO reservations. With rate r/s and burst b, no window of T seconds sees
 * more than b + r*T slots. A call leaves up to the late allowance after its slot and reaches
 * Volcengine after a network delay that varies, so a second there gathers the slots of
 * 1,000 ms + both: lib/config.ts (bucketFits) keeps b + r × that span within the account's 60.
 */
import { VolcBudgetExhaustedError } from './errors.ts';

export interface TokenBucketOptions {
  ratePerSecond: number;
  burst: number;
  /** How late after its slot a call may still leave (default DEFAULT_LATE_ALLOWANCE_MS). */
  lateAllowanceMs?: number;
  now?: () => number;
}

/** How late after its slot a call may leave by default: see DEFAULT_TIMING in lib/quota/slots.ts. */
export const DEFAULT_LATE_ALLOWANCE_MS = 20;

/**
 * What the client spends before every attempt: a slot to call Volcengine in. `reserve` answers
 * how long to wait for the slot, or throws VolcBudgetExhaustedError (with a retry-after) when the
 * wait would pass maxWaitMs. `priority` orders waiting callers (lower first: the archiver passes
 * a task's deadline); `signal` is the caller's deadline (a limiter that waits on a store stops at it).
 */
export interface RateLimiter {
  reserve(maxWaitMs: number, priority?: number, signal?: AbortSignal): number | Promise<number>;
  /**
   * How late after its slot a call may still leave. The client checks right before a request
   * leaves; a later one gives its slot up (`missed`) and takes another: late is never sent.
   */
  readonly lateAllowanceMs: number;
  missed?(): void;
  /**
   * How far the limiter's clock has been moved forward in all (the shared quota's fleet time): a
   * slot granted before a move lies that much earlier than its wait said, and the client counts
   * it as that much later.
   */
  clockShiftMs?(): number;
}

/** The per-instance limiter: right for one instance only (local runs, or QUOTA_TABLE unset). */
export class TokenBucket implements RateLimiter {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly lateAllowanceMs: number;
  readonly #now: () => number;
  #tokens: number;
  #updatedAt: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) throw new RangeError('rate must be > 0 and burst >= 1');
    this.ratePerSecond = options.ratePerSecond;
    this.burst = options.burst;
    this.lateAllowanceMs = options.lateAllowanceMs ?? DEFAULT_LATE_ALLOWANCE_MS;
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = options.burst;
    this.#updatedAt = this.#now();
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#updatedAt) * this.ratePerSecond) / 1000);
    this.#updatedAt = now;
  }

  /**
   * Reserves the next slot and returns how long to wait for it, or throws
   * VolcBudgetExhaustedError (reserving nothing) when the wait would be longer than maxWaitMs.
   */
  reserve(maxWaitMs = Number.POSITIVE_INFINITY): number {
    this.#refill();
    const waitMs = this.#tokens >= 1 ? 0 : ((1 - this.#tokens) * 1000) / this.ratePerSecond;
    if (waitMs > maxWaitMs) throw new VolcBudgetExhaustedError(waitMs);
    this.#tokens -= 1;
    return waitMs;
  }
}
