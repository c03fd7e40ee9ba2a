/**
 * The quota's arithmetic, apart from any store. Volcengine allows `VOLC_ACCOUNT_QPS` calls per
 * second per account, counted where they arrive. We split that rate into two shares, the
 * archiver's (reserved) and the lookups' (the rest), and give each a **frontier**: the time of its
 * next free call slot. Slots of a share are `slotSpacingMs` apart, so however a second is placed
 * at Volcengine, it holds at most `rate` of them, even when calls leave up to `lateMs` after their
 * slot and the network delays them by anything between its least and its most (`networkMs` apart).
 *
 * Times here are **fleet time** (see `ratchetOffset`): never one instance's clock read against
 * another's.
 */

export type Share = 'lookup' | 'archiver';

export interface QuotaShares {
  /** Calls per second for the whole account (VOLC_ACCOUNT_QPS). */
  accountQps: number;
  /** The archiver's reserved share (ARCHIVE_QPS); lookups get the rest, and the reserve while the archiver has no due work. */
  archiveQps: number;
}

export interface SlotTiming {
  /** How late after its slot a call may still leave (QUOTA_LATE_MS); a later one takes a new slot instead. */
  lateMs: number;
  /** How much the network delay to Volcengine may vary from call to call (QUOTA_NETWORK_MS). */
  networkMs: number;
  /**
   * How far an instance's fleet time may run behind the fastest clock's (QUOTA_CLOCK_MS, 0 by
   * default): a call leaves at its slot by its own view, that much later by the fastest clock's
   * (see ratchetOffset). About a table round trip where clocks differ by more than one; 0 where
   * they agree (Lambda's follow the Amazon Time Sync Service, well within a millisecond).
   */
  clockMs?: number;
}

/** How late after its slot a call may leave by default (QUOTA_LATE_MS), here and in the client's TokenBucket: see DEFAULT_TIMING. */
export const DEFAULT_LATE_ALLOWANCE_MS = 20;

/**
 * Late: a timer firing late on a busy machine. Measured with `npm run bench -- quota` (2 cores,
 * 6 lookup processes, the peers beside them): a call leaves p50 1.5 ms, p90 6 ms, p99 17 ms after
 * its slot while the hypervisor withheld 12 % of the CPU (p99 ≈ 2 ms on an idle machine, ≈ 20 ms
 * beside a CPU-bound process). 20 ms: each ms of allowance costs 0.05 calls/s of the ceiling
 * (54.55/s at 20, 55.05 at 10), and every call later than it gives its slot up; at 10 ms, the
 * idle case alternated with 20 ms four times gave 54.8, 53.0, 53.1, 54.8/s (5, 47, 43, 5 slots
 * given up; steal 0.4, 8, 7.1, 0.3 %), at 20 ms 54.3, 54.4, 54.6, 54.6/s (5, 2, 1, 0; steal 6.2,
 * 0.2, 3.1, 1.3 %). Network: calls that reach Volcengine 0–80 ms after they leave are never throttled.
 */
export const DEFAULT_TIMING: SlotTiming = { lateMs: DEFAULT_LATE_ALLOWANCE_MS, networkMs: 80 };

export function shareRate(shares: QuotaShares, share: Share): number {
  return share === 'archiver' ? shares.archiveQps : shares.accountQps - shares.archiveQps;
}

/**
 * A call of slot s reaches Volcengine in [s + least delay, s + least delay + lateMs + clockMs +
 * networkMs] (by the fastest clock), so a second there gathers the slots of 1,000 + lateMs +
 * clockMs + networkMs ms: `rate` of them, at most.
 */
export function slotSpacingMs(ratePerSecond: number, timing: SlotTiming): number {
  return (1000 + timing.lateMs + (timing.clockMs ?? 0) + timing.networkMs) / ratePerSecond;
}

/** Bounds of the random margin (in slots of the share) an advance keeps before the caller's latest slot. */
export const CONTENTION_MARGIN_SLOTS = { least: 2, most: 6 };

/** How long the archiver's demand marker holds after its last slot: lookups give its reserve back within this. */
export const DEMAND_HOLD_MS = 1_000;

/** The quota item as last seen: each share's frontier, the archiver's demand marker, the last writer's stamp (all fleet time). */
export interface QuotaState {
  lookup?: number | undefined;
  archiver?: number | undefined;
  /** Until when the archiver has due work: while it lies ahead, lookups take no slot of its reserve ahead of time. */
  demand?: number | undefined;
  /** The fleet time its last writer read just before writing. */
  stamp?: number | undefined;
}

/** One conditional write to try: take `share`'s frontier slot (`advance`) or restart an idle share at now (`restart`). */
/**
 * One conditional write to try: `advance` takes the frontier's slot (the share is busy); `restart`
 * takes the slot when the write's answer is expected back (the share is idle: its frontier lies in
 * the past). A frontier so near that its slot passes before the answer is back is still advanced:
 * the call is then late and gives the slot up, one slot lost, where moving the frontier to the
 * answer's time would lose all slots in between, and under contention those of every writer.
 */
export interface TakePlan {
  share: Share;
  op: 'advance' | 'restart';
  /** The slot it gives, if the state is still as seen. */
  at: number;
  /** The write's bound on the frontier (advance). */
  latest: number;
  /** Taking from the other share's reserve ahead of time: only while its owner has no due work (lookups on the archiver's). */
  whenNoDemand: boolean;
}

export interface PlanContext {
  role: Share;
  now: number;
  /** How long the write's answer is expected to take: a restarted share's slot lies this far after now. */
  leadMs: number;
  /** How late after its slot a call may leave: a slot further before the answer's time is likely lost. */
  lateMs: number;
  /** The latest slot the caller accepts. */
  latest: number;
  /**
   * An advance is planned only for a frontier at least this far before `latest`, drawn at random
   * per caller: under contention, instances whose views of fleet time differ by a few ms then win
   * the frontier's last slots by chance, not always the one whose view leads, and a caller whose
   * slot the others will likely take first is refused on a read, not a failed write.
   */
  marginMs: number;
  spacing: Record<Share, number>;
}

const other = (share: Share): Share => (share === 'lookup' ? 'archiver' : 'lookup');

/**
 * Where a caller could get a slot now, from the state as last seen, best first. Frontiers and the
 * demand marker only move forward, so a state that shows no slot within `latest` is a sure refusal
 * (an empty list), whatever the table holds by now; a plan that looks possible is checked by the
 * write's condition.
 *
 * Own share: its frontier's slot, or when the write's answer is back if that is later. The other
 * share, work-conserving:
 * - the archiver takes a lookup slot only when lookups leave it idle (due within two slots);
 * - lookups take a slot of the archiver's reserve when it would idle (its frontier in the past), and
 *   ahead of time only while the archiver has no due work (no fresh demand marker).
 */
export function planTakes(state: QuotaState, context: PlanContext): TakePlan[] {
  const { role, now, latest, spacing } = context;
  const borrowed = other(role);
  const plans = [planFor(state[role], role, context, latest, false)];
  const lent = role === 'archiver' ? { ...context, marginMs: 0 } : context;
  const borrow = planFor(state[borrowed], borrowed, lent, role === 'archiver' ? Math.min(latest, now + 2 * spacing.lookup) : latest, true);
  const demandFresh = state.demand !== undefined && state.demand >= now;
  if (borrow && (borrow.op === 'restart' || role === 'archiver' || !demandFresh)) plans.push(borrow);
  const possible = plans.filter((plan): plan is TakePlan => plan !== undefined);
  // A slot that will have passed by more than the late allowance when the write's answer is back is
  // likely lost (the call gives it up): taken only when nothing else is to be had.
  const onTime = possible.filter((plan) => plan.at >= now + context.leadMs - context.lateMs);
  return (onTime.length ? onTime : possible).sort((a, b) => a.at - b.at || (a.share === role ? -1 : 1));
}

function planFor(
  frontier: number | undefined,
  share: Share,
  context: PlanContext,
  latest: number,
  borrowing: boolean,
): TakePlan | undefined {
  const { now, leadMs, marginMs, role } = context;
  if (frontier === undefined || frontier < now) return { share, op: 'restart', at: now + leadMs, latest, whenNoDemand: false };
  if (frontier > latest - marginMs) return undefined;
  return { share, op: 'advance', at: frontier, latest, whenNoDemand: borrowing && role === 'lookup' };
}

/** The state after our write went through: what the table held before it, with our update applied. */
export function applyTake(before: QuotaState, plan: TakePlan, spanMs: number, now: number, demandUntil?: number): QuotaState {
  const frontier = plan.op === 'advance' ? (before[plan.share] ?? now) + spanMs : plan.at + spanMs;
  return { ...before, [plan.share]: frontier, stamp: now, ...(demandUntil === undefined ? {} : { demand: demandUntil }) };
}

/**
 * Skew without a server clock. DynamoDB has none, so the fleet keeps its own: **fleet time** is an
 * instance's clock plus an offset, and every write stamps the item with the writer's fleet time
 * read just before it wrote. A write or read that returns the item happened after that stamp was
 * read, so on receipt our fleet time must be at least the stamp: the offset only ever rises to
 * make it so. Every instance's fleet time thus follows the fastest clock in the fleet, behind it by
 * at most the time from a stamp to its receipt (a table round trip while the quota is busy, and
 * tighter with every round trip), and never ahead of it (a stamp is never ahead of the clock that
 * wrote it). An instance whose clock lags learns fleet time from its first answer, before it takes
 * a slot. One whose clock leads becomes the fleet's reference, and the others' view jumps forward
 * by its lead: `joinPushMs` keeps the slots they granted by their older view from being given again.
 */
export function ratchetOffset(offset: number, stamp: number | undefined, localNow: number): number {
  return stamp === undefined || !Number.isFinite(stamp) ? offset : Math.max(offset, stamp - localNow);
}

/** The most two instances' clocks may differ by (QUOTA_MAX_SKEW_MS's default). */
export const DEFAULT_MAX_SKEW_MS = 500;

/**
 * How far a joining instance moves both frontiers forward. Its clock may lead the fleet's by as
 * much as its now lies past the item's last stamp (the stamp is at most that old), and no more than
 * the skew allowed; slots the fleet granted up to the frontier by its own view then lie before the
 * frontier by the joiner's. It costs the slots of (now − stamp) on a busy share, where stamps are
 * milliseconds old, and nothing on an idle one, whose frontier stays in the past.
 */
export function joinPushMs(stamp: number | undefined, now: number, maxSkewMs: number): number {
  return stamp === undefined ? 0 : Math.min(maxSkewMs, Math.max(0, now - stamp));
}

/** When a caller that may wait `maxWaitMs` could get a slot again, from the frontier it was refused at. */
export function retryAfterMs(frontier: number | undefined, now: number, maxWaitMs: number): number {
  if (frontier === undefined) return 1000;
  return Math.max(1, Math.ceil(frontier - now - maxWaitMs));
}
