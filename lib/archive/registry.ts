/**
 * The watch registry's port: what the lookup, the callback and the archiver need of the state of
 * watching. One entry per watched **run** (its StartTime known from Volcengine, or announced by a
 * caller) and at most one **pending** registration per task address (a callback named the task,
 * its StartTime unknown). Every state transition is one conditional write of one entry:
 *
 *   registerRun / registerPending   an upsert that never loses what the entry already knows;
 *                                   each bumps the entry's `generation`
 *   continueSighting                a callback's sighting of an address whose callbacks go on:
 *                                   its last-seen time only (and its generation)
 *   claim                           the archiver takes a due entry for one schedule tick; another
 *                                   invocation of the same tick cannot (duplicate deliveries),
 *                                   except one that took the tick over from a holder that died:
 *                                   it takes back what that one had not finished (TickHold)
 *   reschedule                      the claimant sets when the entry is due next
 *   retire                          the claimant deletes it; a pending entry only if no
 *                                   registration came after the claim (same generation)
 *
 * A crash between any two of these leaves an entry the next tick claims again: it is never
 * dropped. DynamoDbRegistry implements the port on DynamoDB; MemoryRegistry in memory, with the
 * same conditions, for the capacity simulation (a fidelity test runs the same cases on both).
 */
import { VOLC_ID_PATTERN, WINDOW_MS, type TaskAddress } from '../volc/schemas.ts';
import { timeDigits } from './segment-archive.ts';

export type EntryKind = 'run' | 'pending';
/** How much is known of a watched run's StartTime: seen from Volcengine, announced by a caller, or nothing yet. */
export type RegistryState = 'known' | 'announced' | 'unknown';
export type RegistrationVia = 'lookup' | 'watch' | 'callback' | 'archiver';
export type RegisterOutcome = 'registered' | 'already-watched';

/**
 * The due index's lanes, each read in ascending due time (readingOrder below says in what order):
 *   ending   a window about to close (a run's captures inside the final margin before it closes:
 *            its last chance), or a run likely to have ended (an address's activity watch, due
 *            when its callbacks have been silent for the run's MaxIdleTime plus a margin)
 *   first    what has not been asked about yet: pending registrations, announced runs
 *   refresh  known running runs, asked again once their refresh interval passed; the longest
 *            overdue first, so under load each is refreshed in turn, as often as the share allows
 *   retry    asks again of what Volcengine has not shown a run for (or refused to answer about):
 *            registrations that may never become runs (asked every ARCHIVE_UNKNOWN_RETRY_MS for
 *            72 h) never hold back a running run's refresh
 * Under overload repeat asks wait first, then refreshes not yet a whole interval overdue, then new
 * registrations, then overdue refreshes; ending runs never.
 */
export type Lane = 'ending' | 'first' | 'refresh' | 'retry';
export const LANES: readonly Lane[] = ['ending', 'first', 'refresh', 'retry'];

/** A stretch of the due index: one lane's entries due by `until`; of those, only the ones whose window closes by `closingBy` (when set). */
export interface DueStretch {
  lane: Lane;
  until: number;
  closingBy?: number;
}

/**
 * The order an archiver run reads the due index in at `now`: closing windows; refreshes due more
 * than `overdue.afterMs` ago (decision.ts: overdueAfter, the refresh interval plus a grace) of runs
 * whose window closes by `overdue.closingBy`; first captures; every refresh due; repeat asks.
 * However many registrations arrive in the first lane, a run near its close waits that long at most
 * for its refresh, so its move to the ending lane that long before its final margin (decision.ts:
 * nextRefresh) holds, while other refreshes wait behind new registrations. The refresh lane's head
 * is listed twice: the archiver takes an entry once a run (EntryWork.firstSight).
 */
export function readingOrder(now: number, overdue: { afterMs: number; closingBy?: number }): DueStretch[] {
  const { afterMs, ...only } = overdue;
  return [
    { lane: 'ending', until: now },
    { lane: 'refresh', until: now - afterMs, ...only },
    { lane: 'first', until: now },
    { lane: 'refresh', until: now },
    { lane: 'retry', until: now },
  ];
}

/** No entry of any lane counted yet. */
export const noLanes = (): Record<Lane, number> => ({ ending: 0, first: 0, refresh: 0, retry: 0 });

/** When an entry is due next, and in which lane. */
export interface Due {
  dueAt: number;
  lane: Lane;
}

/** A run the archiver registers: when it is first due, and the tick of the ask that found it (RegistryEntry.askedTick). */
export interface FirstDue extends Due {
  askedTick?: number;
}

/** Names an entry: a run of an address, or the address's pending registration. */
export interface EntryRef {
  address: TaskAddress;
  kind: EntryKind;
  /** The run's StartTime (run entries only). */
  startTime: number | undefined;
}

/**
 * An address's activity watch: the pending entry of an address whose running run is watched
 * already, kept while callbacks keep naming the address (Volcengine sends one per segment while a
 * run runs). It is due when they have been silent long enough for the run to have ended, and is
 * then asked about first (ending lane); while they go on, its claim reschedules it without asking
 * Volcengine. A new burst of callbacks (burstFrom other than the one it saw: a new run of a
 * reused TaskId, probably) has it asked about at its next claim.
 */
export interface ActivityWatch {
  /** The burst of callbacks it last saw (its burstFrom; 0 when none was recorded). */
  burstSeen: number;
  /** How long after the last callback its run has likely ended: the run's MaxIdleTime plus ARCHIVE_IDLE_MARGIN_MS. */
  endsAfterMs: number;
}

/** What the due index holds of an entry: enough to order and claim it. */
export interface DueEntry extends EntryRef {
  dueAt: number;
  lane: Lane;
  deadline: number;
  state: RegistryState;
}

export interface RegistryEntry extends DueEntry {
  registeredAt: number;
  via: RegistrationVia;
  /** Bumped by every registration: a claimant sees whether one came after its claim. */
  generation: number;
  /** The schedule tick (epoch ms) whose archiver invocation claimed the entry last. */
  polledTick: number | undefined;
  /** That invocation (its Lambda request id), and when it claimed it (on its clock). */
  claimedBy: string | undefined;
  claimedAt: number | undefined;
  /** The claim before this one's time, on its claimant's clock (a claim answers it; for figures only, never to order data). */
  previousClaimAt?: number | undefined;
  /** Volcengine refused to answer about it (not throttling): its code and since when. */
  refused: { code: string; since: number } | undefined;
  /** When a callback last named the address (pending entries). */
  lastSeenAt: number | undefined;
  /** When the current burst of callbacks naming the address began (pending entries): the first after a silence of the gap or longer. */
  burstFrom: number | undefined;
  /** Set: the entry is its address's activity watch. */
  activity: ActivityWatch | undefined;
  /**
   * The schedule tick of the archiver run that last asked Volcengine about it (run entries): how
   * long ago it was asked while ARCHIVE_NO_REUSE_REFRESH_MS spaces the asks of apps not seen
   * reusing TaskIds (decision.ts: waitsToAsk).
   */
  askedTick: number | undefined;
  /** The refresh interval its last ask gave it (a running run in its refresh lane): the next is at least REFRESH_SHRINK of it. */
  intervalMs?: number | undefined;
}

/** A claimant's change of an entry: when it is due next, and what it learnt. */
export interface EntryChange {
  dueAt: number;
  /** The lane it moves to; unset: it stays in its lane. */
  lane?: Lane;
  /** An announced run Volcengine now shows. */
  state?: 'known';
  /** Set: Volcengine refused to answer (kept since the first refusal); null: it answered again. */
  refused?: { code: string; since: number } | null;
  /** Set: the entry is (or stays) its address's activity watch, with these; null: it no longer is. */
  activity?: ActivityWatch | null;
  /** The tick of the ask this change follows (RegistryEntry.askedTick). */
  askedTick?: number;
  /** Set: the refresh interval this ask gave (RegistryEntry.intervalMs); null: none (a retry's wait, the ending lane). */
  intervalMs?: number | null;
}

/**
 * What an invocation that took a tick over may take back: the claims of `from` (itself, when Lambda
 * retried it after it died, or a holder whose lease ran out) made at or after `claimedSince` on
 * that holder's clock; it had finished every entry it claimed earlier (its last renewal said so).
 */
export interface Inheritance {
  from: string;
  claimedSince: number;
}

/** A schedule tick an invocation holds; `inherit` when it took the tick over from a holder that died. */
export interface TickHold {
  inherit?: Inheritance;
}

/** What registers runs for watching: the lookup and callback functions (and the archiver, for a run it follows). */
export interface Registrations {
  /** Watches a run: known (a lookup or the archiver saw it) or announced (WatchSegmentTask with its StartTime). */
  registerRun(
    address: TaskAddress,
    startTime: number,
    via: Exclude<RegistrationVia, 'callback'>,
    now: number,
    firstDue?: FirstDue,
  ): Promise<RegisterOutcome>;
  /**
   * Watches whatever run an address has, its StartTime unknown (a callback, or WatchSegmentTask
   * without StartTime). A callback's is a sighting that starts a new burst of callbacks (its last-seen
   * time, and burstFrom); a callback whose stream goes on calls continueSighting first.
   */
  registerPending(address: TaskAddress, via: 'callback' | 'watch', now: number): Promise<RegisterOutcome>;
  /**
   * A callback's sighting of an address whose pending entry a callback named less than `gapMs`
   * before `now`: moves its last-seen time (and bumps its generation), nothing else. False, having
   * written nothing, when there is no pending entry or the callbacks broke off for longer: the
   * caller then registers the address (registerPending), which starts a new burst.
   */
  continueSighting(address: TaskAddress, now: number, gapMs: number): Promise<boolean>;
}

export interface WatchRegistry extends Registrations {
  /**
   * Whether invocation `owner` may run schedule tick `tick`: the first delivery of a tick may, and
   * holds it while it renews its lease; a duplicate delivery running alongside may not, nor one of
   * an older tick or of a tick that ended. A retry of an invocation that died (Lambda retries a
   * failed asynchronous invocation with the same request id), or any delivery once the lease ran
   * out, takes the tick over, takes back what the earlier holder had not finished and goes on with
   * the entries not claimed yet. Undefined: this invocation may not run the tick.
   */
  beginTick(tick: number, owner: string, now: number): Promise<TickHold | undefined>;
  /**
   * Extends the holder's lease and records its progress: every entry it claimed before
   * `claimedBefore` (its claims' `now`, on its own clock) is finished. False when another invocation
   * took the tick over.
   */
  renewTick(tick: number, owner: string, now: number, claimedBefore?: number): Promise<boolean>;
  /** The tick is done: later deliveries of it stop at once. */
  endTick(tick: number, owner: string): Promise<void>;
  /** A page of the entries of `order`'s stretches, stretch by stretch, each in ascending dueAt; `after` is the previous page's cursor. */
  duePage(order: readonly DueStretch[], after?: PageCursor): Promise<Page<DueEntry>>;
  /**
   * Takes a due entry for `tick` on behalf of invocation `owner`, moving its due time to `dueAt`
   * (when to ask again if this tick changes nothing, or dies); undefined when it is gone, not due,
   * or taken for this tick already — unless `inherit` names the holder this one took the tick over
   * from and the claim is one it may not have finished, which it takes back. The claim records `now`.
   */
  claim(
    entry: EntryRef,
    tick: number,
    owner: string,
    now: number,
    dueAt: number,
    inherit?: Inheritance,
  ): Promise<RegistryEntry | undefined>;
  /** Applies a claimant's change; false when the claim was lost (a later tick, or an heir of this one, took the entry). */
  reschedule(entry: RegistryEntry, tick: number, change: EntryChange): Promise<boolean>;
  /** Deletes a claimed entry; false when the claim was lost or (pending) a registration came after it. The claim is `entry`'s. */
  retire(entry: RegistryEntry, tick: number): Promise<boolean>;
  /** How many entries are due at `now` in each of `lanes` (all by default; the others answer 0). */
  dueCount(now: number, lanes?: readonly Lane[]): Promise<Record<Lane, number>>;
  /** A page of every entry, in no set order (operators, tests and the simulation's figures: a full read). */
  entriesPage(after?: PageCursor): Promise<Page<RegistryEntry>>;
}

/** Where a page ended, opaque to callers. */
export type PageCursor = unknown;

export interface Page<T> {
  items: T[];
  /** Undefined on the last page. */
  next: PageCursor | undefined;
}

/** Every item of a paged read, one page in memory at a time. */
async function* paged<T>(read: (after?: PageCursor) => Promise<Page<T>>): AsyncGenerator<T> {
  let after: PageCursor | undefined;
  do {
    const page = await read(after);
    yield* page.items;
    after = page.next;
  } while (after !== undefined);
}

/** The entries of `order`'s stretches in turn, each in ascending dueAt; the next page is read only when the last one is used up. */
export async function* dueEntries(registry: Pick<WatchRegistry, 'duePage'>, order: readonly DueStretch[]): AsyncGenerator<DueEntry> {
  for (const stretch of order) {
    for await (const entry of paged((after) => registry.duePage([stretch], after)))
      if (stretch.closingBy === undefined || entry.deadline <= stretch.closingBy) yield entry;
  }
}

/** Every entry of the registry. */
export const allEntries = (registry: Pick<WatchRegistry, 'entriesPage'>): AsyncGenerator<RegistryEntry> =>
  paged((after) => registry.entriesPage(after));

/** How many entries the registry holds. */
export async function countEntries(registry: Pick<WatchRegistry, 'entriesPage'>): Promise<number> {
  let count = 0;
  for await (const _ of allEntries(registry)) count++;
  return count;
}

/** A registration that names no run is let go (with a record) this long after it was made. */
export const PENDING_LIFETIME_MS = WINDOW_MS;
/** Entries are kept by DynamoDB's TTL this long past their deadline, in case no archiver retired them. */
export const EXPIRY_GRACE_MS = 14 * 86_400_000;
/** How long an archiver invocation holds its tick without renewing: past it, the tick is taken over. */
export const TICK_LEASE_MS = 60_000;

/** The partition key of an address: its three ids (checked against Volcengine's id rule, so "/" cannot occur). */
export function addressKey(address: TaskAddress): string {
  for (const id of [address.appId, address.roomId, address.taskId])
    if (!VOLC_ID_PATTERN.test(id)) throw new RangeError('an id does not match [a-zA-Z0-9_@.-]{1,128}');
  return `${address.appId}/${address.roomId}/${address.taskId}`;
}

export function parseAddressKey(key: string): TaskAddress | undefined {
  const [appId, roomId, taskId, ...rest] = key.split('/');
  if (rest.length || !appId || !roomId || !taskId) return undefined;
  return [appId, roomId, taskId].every((id) => VOLC_ID_PATTERN.test(id)) ? { appId, roomId, taskId } : undefined;
}

const PENDING_SORT_KEY = 'pending';

/** The sort key of an entry: run#{StartTime, 13 digits} or pending. */
export function entrySortKey(entry: Pick<EntryRef, 'kind' | 'startTime'>): string {
  return entry.kind === 'pending' ? PENDING_SORT_KEY : `run#${timeDigits(entry.startTime!)}`;
}

export function parseEntrySortKey(sortKey: string): Pick<EntryRef, 'kind' | 'startTime'> | undefined {
  if (sortKey === PENDING_SORT_KEY) return { kind: 'pending', startTime: undefined };
  const match = /^run#(\d{13})$/.exec(sortKey);
  return match ? { kind: 'run', startTime: Number(match[1]) } : undefined;
}

/**
 * What a new registration of a run writes, and when it is first due: an announced run in the
 * first lane from its StartTime on; a run a lookup saw (and archived) in the refresh lane at once,
 * taken when the lane reaches it; a run the archiver follows when its policy says (`firstDue`).
 */
export function runRegistration(startTime: number, via: Exclude<RegistrationVia, 'callback'>, now: number, firstDue?: FirstDue) {
  const state: RegistryState = via === 'watch' ? 'announced' : 'known';
  const due: Due = firstDue ?? (state === 'known' ? { dueAt: now, lane: 'refresh' } : { dueAt: Math.max(now, startTime), lane: 'first' });
  return { state, deadline: startTime + WINDOW_MS, firstDue: due };
}

/** A pending registration is due at once, in the first lane. */
export const PENDING_LANE: Lane = 'first';
