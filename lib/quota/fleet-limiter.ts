/**
 * The fleet-wide limiter: every instance of every function takes its call slots from the shared
 * frontiers in DynamoDB (lib/quota/slots.ts), so the account's GetSegmentTask quota holds however
 * many Lambda instances run. Lookups take slots of the lookup share only; the archiver takes its
 * reserved share, and a slot of the lookup share when lookups leave it idle. Callers waiting in
 * one instance are served lowest priority first (the archiver: nearest deadline first).
 *
 * When DynamoDB is slow or failing, the limiter never waits past the caller's budget: it falls
 * back to a conservative per-instance rate, logs that once per minute, counts every fallback and
 * asks DynamoDB again after a second.
 */
import { VolcBudgetExhaustedError } from '../volc/errors.ts';
import { withTimeout } from '../timeout.ts';
import type { RateLimiter } from '../volc/rate-limiter.ts';
import type { QuotaStore } from './quota-store.ts';
import { CONTENTION_MARGIN_SLOTS, planTake, retryAfterMs, shareRate, slotSpacingMs, type QuotaShares, type Share } from './slots.ts';

export interface QuotaStats {
  tokensTaken: number;
  tokensDenied: number;
  /** Sum of the waits for granted slots. */
  waitMs: number;
  /** Tokens granted by the per-instance fallback because DynamoDB did not answer in time. */
  fallbacks: number;
}

export interface FleetLimiterOptions {
  store: QuotaStore;
  role: Share;
  shares: QuotaShares;
  /** Budget of one DynamoDB call. */
  storeTimeoutMs: number;
  /** The per-instance limiter used while DynamoDB is unavailable. */
  fallback: RateLimiter;
  /** The longest a caller waits for a slot, whatever budget it has left (LOOKUP_QUOTA_WAIT_MS). */
  maxWaitMs?: number;
  /**
   * Consecutive slots of its own share taken per table write (default 1). Right for a steady
   * caller with several calls in flight, like the archiver: a leased slot it does not use in time
   * is dropped, never used late, so the bound holds.
   */
  leaseSlots?: number;
  now?: () => number;
  /** Source of randomness in [0, 1), for the contention margin. */
  random?: () => number;
  onDegraded?: (error: unknown) => void;
  onRecovered?: () => void;
}

const DEGRADED_RETRY_MS = 1_000;
/** The first table call of an instance opens the connection and loads credentials: it may take this long. */
const FIRST_CALL_TIMEOUT_MS = 1_000;
/** What a table call leaves of the caller's budget, so that the fallback still answers within it. */
const FALLBACK_HEADROOM_MS = 20;
const DEGRADED_LOG_EVERY_MS = 60_000;

interface Waiter {
  /** What the caller has left of its deadline: bounds the table call. */
  budgetMs: number;
  /** The longest it may wait for a slot. */
  maxWaitMs: number;
  priority: number;
  resolve: (waitMs: number) => void;
  reject: (error: unknown) => void;
}

interface Taken {
  at: number | undefined;
  frontier?: number | undefined;
}

const emptyStats = (): QuotaStats => ({ tokensTaken: 0, tokensDenied: 0, waitMs: 0, fallbacks: 0 });

export class FleetLimiter implements RateLimiter {
  readonly #options: FleetLimiterOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #queue: Waiter[] = [];
  #stats = emptyStats();
  #pumping = false;
  #degradedUntil = 0;
  #degradedLoggedAt = Number.NEGATIVE_INFINITY;
  #degraded = false;
  #answered = false;
  /** Slots of the own share leased by the last write and not used yet, earliest first. */
  #leased: number[] = [];

  constructor(options: FleetLimiterOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** The counters since the last call, for metrics. */
  drainStats(): QuotaStats {
    const stats = this.#stats;
    this.#stats = emptyStats();
    return stats;
  }

  reserve(budgetMs: number, priority = Number.POSITIVE_INFINITY): Promise<number> {
    const maxWaitMs = Math.min(budgetMs, this.#options.maxWaitMs ?? Number.POSITIVE_INFINITY);
    return new Promise((resolve, reject) => {
      const waiter = { budgetMs, maxWaitMs, priority, resolve, reject };
      const at = this.#queue.findIndex((w) => w.priority > priority);
      this.#queue.splice(at < 0 ? this.#queue.length : at, 0, waiter);
      void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
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
  async #take({ budgetMs, maxWaitMs }: Waiter): Promise<number> {
    const leased = this.#leasedSlot(maxWaitMs);
    if (leased !== undefined) return this.#granted(leased);
    if (this.#now() < this.#degradedUntil) return this.#fallback(maxWaitMs);
    try {
      const slot = await this.#withTimeout(budgetMs, (signal) => this.#slot(maxWaitMs, signal));
      this.#recovered();
      if (slot.at === undefined) {
        this.#stats.tokensDenied++;
        throw new VolcBudgetExhaustedError(retryAfterMs(slot.frontier, this.#now(), maxWaitMs));
      }
      return this.#granted(slot.at);
    } catch (error) {
      if (error instanceof VolcBudgetExhaustedError) throw error;
      this.#enterDegraded(error);
      return this.#fallback(maxWaitMs);
    }
  }

  #granted(at: number): number {
    // Whole milliseconds, rounded up: timers fire on whole milliseconds, and never before the slot.
    const wait = Math.max(0, Math.ceil(at - this.#now()));
    this.#stats.tokensTaken++;
    this.#stats.waitMs += wait;
    return wait;
  }

  /** A leased slot still ahead of now and within maxWait; slots left behind are dropped. */
  #leasedSlot(maxWaitMs: number): number | undefined {
    const now = this.#now();
    while (this.#leased.length && this.#leased[0]! < now) this.#leased.shift();
    return this.#leased.length && this.#leased[0]! <= now + maxWaitMs ? this.#leased.shift() : undefined;
  }

  /** The slot's time, or undefined with the frontier when none lies within maxWait. */
  async #slot(maxWaitMs: number, signal: AbortSignal): Promise<Taken> {
    const { role, shares } = this.#options;
    if (role === 'archiver') {
      // Only the lookup share's next slot or the one after: slots lookups are not using.
      const idle = await this.#takeFrom('lookup', 2 * slotSpacingMs(shareRate(shares, 'lookup')), signal, { margin: 0 });
      if (idle.at !== undefined) return idle;
    }
    return this.#takeFrom(role, maxWaitMs, signal, { slots: Math.max(1, Math.floor(this.#options.leaseSlots ?? 1)) });
  }

  /**
   * A slot of `share` within maxWait. The frontier is read first (a consistent read, not a
   * write), so the one conditional write that follows is the one that fits, and a caller that
   * cannot be served costs no write at all.
   */
  async #takeFrom(share: Share, maxWaitMs: number, signal: AbortSignal, lease: { slots?: number; margin?: number } = {}): Promise<Taken> {
    const slots = lease.slots ?? 1;
    const { store } = this.#options;
    const spacing = slotSpacingMs(shareRate(this.#options.shares, share));
    const now = this.#now();
    const latest = now + maxWaitMs;
    const frontier = await store.read(share, signal);
    const { least, most } = CONTENTION_MARGIN_SLOTS;
    const plan = planTake(frontier, now, latest, spacing, lease.margin ?? least + this.#random() * (most - least));
    if (plan === 'none') return { at: undefined, frontier };
    const span = spacing * slots;
    const at =
      plan === 'restart'
        ? ((await store.restart(share, span, now, signal)) ?? (await store.advance(share, span, now, latest, signal)))
        : await store.advance(share, span, now, latest, signal);
    if (at !== undefined) for (let i = 1; i < slots; i++) this.#leased.push(at + i * spacing);
    return { at, frontier };
  }

  async #withTimeout<T>(budgetMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const timeout = this.#answered ? this.#options.storeTimeoutMs : Math.max(this.#options.storeTimeoutMs, FIRST_CALL_TIMEOUT_MS);
    const budget = Math.max(1, Math.min(timeout, budgetMs - FALLBACK_HEADROOM_MS));
    const result = await withTimeout(work(controller.signal), budget, () => {
      controller.abort();
      return new Error(`the quota table did not answer within ${budget} ms`);
    });
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

  #enterDegraded(error: unknown): void {
    const now = this.#now();
    this.#degradedUntil = now + DEGRADED_RETRY_MS;
    this.#degraded = true;
    if (now - this.#degradedLoggedAt >= DEGRADED_LOG_EVERY_MS) {
      this.#degradedLoggedAt = now;
      this.#options.onDegraded?.(error);
    }
  }

  #recovered(): void {
    if (!this.#degraded) return;
    this.#degraded = false;
    this.#options.onRecovered?.();
  }
}
