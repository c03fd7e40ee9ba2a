/**
 * The quota's arithmetic, apart from any store. Volcengine allows `VOLC_ACCOUNT_QPS` calls per
 * second per account. We split that rate into two shares, the archiver's (reserved) and the
 * lookups' (the rest), and give each a **frontier**: the time of its next free call slot. Slots
 * of a share are at least 1000/rate ms apart, so no window of one second, however it is placed,
 * holds more than `rate` of them, and both shares together stay within the account's quota —
 * whether Volcengine counts per calendar second or over a sliding one.
 */

/**
 * How late a call may reach Volcengine after its slot (a busy event loop, a table round trip,
 * network jitter) without crowding more than `rate` calls into any second: a share's `rate`
 * slots are spread over 1,000 ms + this, so at most 95 % of the quota is offered.
 */
export const JITTER_ALLOWANCE_MS = 50;

export type Share = 'lookup' | 'archiver';

export interface QuotaShares {
  /** Calls per second for the whole account (VOLC_ACCOUNT_QPS). */
  accountQps: number;
  /** The archiver's reserved share (ARCHIVE_QPS); lookups get the rest. */
  archiveQps: number;
}

export function shareRate(shares: QuotaShares, share: Share): number {
  return share === 'archiver' ? shares.archiveQps : shares.accountQps - shares.archiveQps;
}

export function slotSpacingMs(ratePerSecond: number): number {
  return (1000 + JITTER_ALLOWANCE_MS) / ratePerSecond;
}

/**
 * How many slots a frontier may move between our read and our write before the write would
 * miss: a caller whose slot lies closer than this to the end of its wait is refused without a
 * write, so under contention a refusal costs a read, not a failed write. Each caller draws its
 * margin between these bounds, so instances waiting on the same frontier do not all write at the
 * instant it comes within reach.
 */
export const CONTENTION_MARGIN_SLOTS = { least: 3, most: 7 };

/**
 * How to take a slot, from the frontier as read: `restart` takes the slot at now when the
 * frontier lies in the past (the share was idle); `advance` takes the frontier's slot when it lies
 * between now and `latest` less `marginSlots` (the share is busy); `none` otherwise.
 */
export function planTake(
  frontier: number | undefined,
  now: number,
  latest: number,
  spacingMs: number,
  marginSlots: number,
): 'restart' | 'advance' | 'none' {
  if (frontier === undefined || frontier < now) return 'restart';
  return frontier <= Math.max(now, latest - marginSlots * spacingMs) ? 'advance' : 'none';
}

/** When a caller that may wait `maxWaitMs` could get a slot again, from the frontier it was refused at. */
export function retryAfterMs(frontier: number | undefined, now: number, maxWaitMs: number): number {
  if (frontier === undefined) return 1000;
  return Math.max(1, Math.ceil(frontier - now - maxWaitMs));
}
