/**
 * What the archiver does with one claimed registry entry: pure functions of the entry,
 * Volcengine's answer and the time, returning a Plan that lib/archive/archiver.ts applies in its
 * order — archive the observation, watch a newly seen run, record why the entry's run or
 * registration ended, then reschedule or retire the entry. The entry goes last, so a crash
 * between any two steps leaves it for the next tick, which finds the same plan and repeats only
 * what is idempotent.
 */
import { isTerminalStatus, type SegmentTask, startTimeProblem, WINDOW_MS } from '../volc/schemas.ts';
import type { Due, DueEntry, EntryChange, FirstDue, RegistryEntry } from './registry.ts';

export interface DecisionPolicy {
  /** Captures within this long of a run's window closing are final. */
  finalMarginMs: number;
  /** An entry Volcengine does not show a run for (or refuses to answer about) is asked again after this long. */
  unknownRetryMs: number;
  /** A running run is asked again after this long (in the refresh lane): refreshInterval() chooses it for each archiver run. */
  refreshMs: number;
  /**
   * A running run of an app not seen reusing TaskIds is asked again no sooner than this
   * (ARCHIVE_NO_REUSE_REFRESH_MS): only a next run of its TaskId could cost it its end before its
   * window closes, and its app names each run anew. Unset: refreshMs.
   */
  noReuseRefreshMs?: number;
  /**
   * The schedule tick the archiver run serves: refresh intervals count from it, not from the
   * moment of the ask, so an interval of one schedule is the next run (from the ask, it would be
   * the one after). Unset: from the ask.
   */
  tick?: number;
  /**
   * A run whose callbacks have been silent for its MaxIdleTime plus this long has likely ended:
   * its address's activity watch asks about it then (ARCHIVE_IDLE_MARGIN_MS).
   */
  idleMarginMs: number;
}

/**
 * How long a running run waits before it is asked again, from the load: every run refreshed in
 * turn at `callsPerSecond` (the part of the archiver's share given to refreshes), never more often
 * than `minMs`. A few hundred runs are asked on every archiver run (a TaskId reused minutes after
 * its run ended still gets that run's end archived); thousands are spread out, so refreshes leave
 * the rest of the share to first captures and closing windows, and a run costs a few calls.
 */
export function refreshInterval(runningRuns: number, callsPerSecond: number, minMs: number): number {
  return Math.max(minMs, Math.ceil((runningRuns / callsPerSecond) * 1000));
}

/**
 * A running run is asked again no sooner than this share of the interval it was last given: the
 * interval follows the load up at once and down by at most a tenth an ask, so the long runs that
 * outlast a peak are not asked again at the idle minimum as soon as the load falls (in the capacity
 * scenario, its last hours: 4.09 calls a run without, 3.94 with; the ends they capture come as soon).
 */
export const REFRESH_SHRINK = 0.9;

/**
 * The refresh interval a running run's last ask gave it (RegistryEntry.intervalMs, recorded with
 * the ask: a retry's wait or the ending lane records none), in its refresh lane; 0 otherwise. Not
 * while asks are spaced: a spaced app's interval is not the load's.
 */
function lastGiven(entry: RegistryEntry, policy: DecisionPolicy): number {
  if (entry.kind !== 'run' || entry.state !== 'known' || entry.lane !== 'refresh' || spacesAsks(policy)) return 0;
  return entry.intervalMs ?? 0;
}

/** The policy for a running run's next refresh: the load's interval, or REFRESH_SHRINK of its last one if longer. */
function forRun(entry: RegistryEntry, policy: DecisionPolicy): DecisionPolicy {
  const shrunk = Math.floor(lastGiven(entry, policy) * REFRESH_SHRINK);
  return shrunk > policy.refreshMs ? { ...policy, refreshMs: shrunk } : policy;
}

/** Whether the runs of apps not seen reusing TaskIds are asked less often than the load's interval (ARCHIVE_NO_REUSE_REFRESH_MS). */
export const spacesAsks = (policy: DecisionPolicy): boolean => (policy.noReuseRefreshMs ?? 0) > policy.refreshMs;

/**
 * A running run of an app not seen reusing TaskIds (`appReuses` false), asked less than
 * ARCHIVE_NO_REUSE_REFRESH_MS of schedule ticks ago, is not asked on this tick: it stays due at the
 * refresh interval, so once its app is found reusing TaskIds (on another entry, at any time) it is
 * asked on the next tick that finds it, not one long interval later. Never in the ending lane;
 * ticks, not claimants' clocks, measure the wait (the schedule's times are the same for every
 * instance). Undefined: ask.
 */
export function waitsToAsk(entry: RegistryEntry, now: number, policy: DecisionPolicy, appReuses: boolean | undefined): Plan | undefined {
  if (appReuses !== false || !spacesAsks(policy) || entry.kind !== 'run' || entry.state !== 'known' || entry.lane !== 'refresh')
    return undefined;
  const tick = policy.tick ?? now;
  if (entry.askedTick === undefined || tick - entry.askedTick >= policy.noReuseRefreshMs!) return undefined;
  // Due again after the refresh interval, or when the spacing runs out if that is sooner: an interval that does not
  // divide the spacing would otherwise stretch it (15-minute refreshes, 20-minute spacing: asked every 30).
  const next = nextRefresh(entry.deadline, now, policy);
  const spacedUntil = entry.askedTick + policy.noReuseRefreshMs!;
  return { entry: { kind: 'reschedule', change: next.lane === 'refresh' ? { ...next, dueAt: Math.min(next.dueAt, spacedUntil) } : next } };
}

/**
 * Whether the answer shows the entry's TaskId reused: a newer run than the known one the entry
 * watches, or a run before the one a WatchSegmentTask announced.
 */
export function showsReuse(entry: RegistryEntry, observation: Observation): boolean {
  if (observation.kind !== 'shown' || entry.kind !== 'run') return false;
  return entry.state === 'known' ? observation.task.StartTime > entry.startTime! : !namesThisRun(entry, observation.task);
}

/** Volcengine's MaxIdleTime when a task does not name its own (180 s). */
export const DEFAULT_MAX_IDLE_TIME_MS = 180_000;

/** How long after its last callback a run has likely ended: its MaxIdleTime (seconds) plus the margin. */
export function likelyEndedAfter(task: SegmentTask, policy: Pick<DecisionPolicy, 'idleMarginMs'>): number {
  const idle = task.MaxIdleTime !== undefined && task.MaxIdleTime > 0 ? task.MaxIdleTime * 1000 : DEFAULT_MAX_IDLE_TIME_MS;
  return idle + policy.idleMarginMs;
}

/** A run that starts this much earlier than announced is still the announced one (callers' clocks differ from Volcengine's). */
export const ANNOUNCED_START_TOLERANCE_MS = 10 * 60_000;
/** A run that ended this long before a registration without StartTime is not the run it names. */
export const REGISTRATION_GRACE_MS = 10 * 60_000;

/** What Volcengine said about an entry's address. */
export type Observation =
  | { kind: 'shown'; task: SegmentTask & { StartTime: number } }
  | { kind: 'not-shown' }
  /** An answer whose StartTime is absent or not epoch ms (schema drift). */
  | { kind: 'drift'; problem: string }
  /** Volcengine refused to answer about this address (a client error that is not throttling). */
  | { kind: 'refused'; code: string };

/** What to do with an entry, in this order. */
export interface Plan {
  /** Archive this observation of a run (a timeline entry when it adds to the run's history). */
  record?: { startTime: number; task: SegmentTask; final: boolean };
  /** Watch this run of the address (it is newer than the entry's, or the one a registration named), first due then. */
  register?: { startTime: number; due: FirstDue };
  /** The entry's run stopped being watched before a final snapshot. */
  unfinished?: { startTime: number; outcome: 'superseded' | 'expired-without-final' };
  /** The registration ends without ever having been shown a run. */
  unanswered?: { outcome: 'not-found' | 'refused'; code?: string | undefined };
  entry: EntryStep;
}

export type EntryStep =
  | { kind: 'retire' }
  /** Retire once the recorded run's stored latest state is terminal; otherwise `otherwise`. */
  | { kind: 'retire-if-terminal'; otherwise: EntryChange }
  | { kind: 'reschedule'; change: EntryChange }
  /** Leave the entry as it is: due again on the next tick. */
  | { kind: 'leave'; drift?: string };

/**
 * The due time a claim gives an entry: when it is due again if this tick changes nothing (or dies
 * before deciding). A known run stays due (the next tick takes it again); anything waiting to be
 * shown or answered is asked again ARCHIVE_UNKNOWN_RETRY_MS from now, whatever happens after the claim.
 */
export function dueAfterClaim(entry: DueEntry, now: number, policy: DecisionPolicy): number {
  return entry.kind === 'run' && entry.state === 'known' ? entry.dueAt : nextAsk(now, policy);
}

/**
 * How long after its due time a refresh is read ahead of first asks (registry.ts: readingOrder):
 * its interval plus REFRESH_GRACE_MS. The grace keeps the refreshes a tick or two left due (a run
 * that died, a store fault) behind new registrations; beyond it, a flood of registrations cannot
 * hold a run's refresh back any longer.
 */
export const REFRESH_GRACE_MS = 15 * 60_000;
export const overdueAfter = (refreshMs: number): number => refreshMs + REFRESH_GRACE_MS;

/** An ask due at `dueAt` that, as late as a refresh may be (overdueAfter), could fall inside the run's final margin. */
const mayMissMargin = (dueAt: number, closingFrom: number, policy: DecisionPolicy): boolean =>
  dueAt + overdueAfter(policy.refreshMs) >= closingFrom;

/**
 * When a running run is asked about next: after the refresh interval; or, when that ask, late by
 * as much as a refresh can be before it is read ahead of first asks (overdueAfter), could fall
 * inside the final margin before its window closes, at the margin's start in the ending lane (read
 * before anything else: a run parked in the refresh lane while the share is short could otherwise
 * wait past its close); inside the margin, on every tick (the last capture is as late as the
 * window allows).
 */
export function nextRefresh(deadline: number, now: number, policy: DecisionPolicy): Due {
  const closingFrom = deadline - policy.finalMarginMs;
  // Due again right after this run (a run counting what it left due counts it as reached): after its tick too, by which
  // the run judges what is due when this instance's clock runs behind it.
  if (now >= closingFrom) return { dueAt: Math.max(now, policy.tick ?? now) + 1, lane: 'ending' };
  const next = Math.min(policy.tick ?? now, now) + policy.refreshMs;
  return mayMissMargin(next, closingFrom, policy) ? { dueAt: closingFrom, lane: 'ending' } : { dueAt: next, lane: 'refresh' };
}

/**
 * Before asking Volcengine: an entry whose deadline passed ends here; an activity watch whose
 * callbacks go on (none silent for its run's likely idle end, no new burst) is due again when they
 * would have been, without asking.
 */
export function beforePoll(entry: RegistryEntry, now: number): Plan | undefined {
  if (now >= entry.deadline) return expired(entry);
  const watch = entry.activity;
  if (!watch || entry.lastSeenAt === undefined || (entry.burstFrom ?? 0) !== watch.burstSeen) return undefined;
  const dueAt = entry.lastSeenAt + watch.endsAfterMs;
  return dueAt > now ? { entry: { kind: 'reschedule', change: { dueAt } } } : undefined;
}

/** An entry past its deadline: a known run unfinished, a registration unanswered; an activity watch (its address had runs) silently. */
function expired(entry: RegistryEntry): Plan {
  if (entry.kind === 'run' && entry.state === 'known')
    return { unfinished: { startTime: entry.startTime!, outcome: 'expired-without-final' }, entry: { kind: 'retire' } };
  if (entry.activity) return { entry: { kind: 'retire' } };
  const unanswered = entry.refused ? { outcome: 'refused' as const, code: entry.refused.code } : { outcome: 'not-found' as const };
  return { unanswered, entry: { kind: 'retire' } };
}

/** Reads a GetSegmentTask answer into an Observation; `now` bounds a plausible StartTime. */
export function observe(task: SegmentTask | undefined, now: number): Observation {
  if (!task) return { kind: 'not-shown' };
  if (task.StartTime === undefined) return { kind: 'drift', problem: 'Volcengine answered without StartTime' };
  const problem = startTimeProblem(task.StartTime, now);
  if (problem) return { kind: 'drift', problem: `Volcengine answered a StartTime that is not plausible: ${problem}` };
  return { kind: 'shown', task: task as SegmentTask & { StartTime: number } };
}

export function decide(entry: RegistryEntry, observation: Observation, now: number, policy: DecisionPolicy): Plan {
  switch (observation.kind) {
    case 'drift':
      return { entry: { kind: 'leave', drift: observation.problem } };
    case 'refused': {
      const change: EntryChange = { ...askAgain(entry, now, policy), refused: { code: observation.code, since: now }, ...unwatched(entry) };
      return { entry: { kind: 'reschedule', change } };
    }
    case 'not-shown':
      return wait(entry, now, policy);
    default:
      return decideShown(entry, observation.task, now, policy);
  }
}

function decideShown(entry: RegistryEntry, shown: SegmentTask & { StartTime: number }, now: number, policy: DecisionPolicy): Plan {
  const start = shown.StartTime;
  if (entry.kind === 'run' && start === entry.startTime) return ownRun(entry, shown, now, policy);
  if (!namesThisRun(entry, shown)) return { ...endBeforeAnnounced(entry, shown), ...wait(entry, now, policy) };
  // Another run than the entry's: a newer run of a known one, or the run a registration named.
  const final = isFinal(shown, now, policy);
  const running = !isTerminalStatus(shown.Status);
  return {
    record: { startTime: start, task: shown, final },
    ...(running ? { register: { startTime: start, due: { ...nextRefresh(start + WINDOW_MS, now, policy), ...asked(policy) } } } : {}),
    ...(entry.kind === 'run' && entry.state === 'known'
      ? { unfinished: { startTime: entry.startTime!, outcome: 'superseded' as const } }
      : {}),
    entry: entry.kind === 'pending' && running ? afterRunningRun(entry, shown, now, policy) : { kind: 'retire' },
  };
}

/**
 * A pending entry that led to a running run: while callbacks go on naming its address, it is (or
 * stays) the address's activity watch, due when they will have been silent for the run's likely
 * idle end; otherwise it is retired (the run's refreshes go on). A registration becomes the watch
 * only once a callback named the address after the one that began its burst: a run one callback
 * named (or a WatchSegmentTask) is not asked about again for it. A watch stays one beside the same
 * run, or the newer one a new burst led to.
 */
function afterRunningRun(entry: RegistryEntry, shown: SegmentTask, now: number, policy: DecisionPolicy): EntryStep {
  const { lastSeenAt, burstFrom } = entry;
  if (lastSeenAt === undefined) return { kind: 'retire' };
  const endsAfterMs = likelyEndedAfter(shown, policy);
  const goesOn = entry.activity !== undefined || (burstFrom !== undefined && lastSeenAt > burstFrom);
  if (!goesOn || lastSeenAt + endsAfterMs <= now) return { kind: 'retire' };
  const activity = { burstSeen: burstFrom ?? 0, endsAfterMs };
  return { kind: 'reschedule', change: { dueAt: lastSeenAt + endsAfterMs, lane: 'ending', activity } };
}

/**
 * An announced run asked about while Volcengine still shows the run before it, ended: that run's
 * end is archived (final, as terminal). Its own entry may not be asked again before the announced
 * run starts and replaces it in Volcengine's answers; the answer is at hand, the end would be lost.
 */
function endBeforeAnnounced(entry: RegistryEntry, shown: SegmentTask & { StartTime: number }): Pick<Plan, 'record'> {
  if (entry.kind !== 'run' || entry.state !== 'announced' || !isTerminalStatus(shown.Status)) return {};
  return { record: { startTime: shown.StartTime, task: shown, final: true } };
}

/** A change that makes an activity watch a registration waiting for its run again. */
const unwatched = (entry: RegistryEntry): Pick<EntryChange, 'activity'> => (entry.activity ? { activity: null } : {});

/** The run the entry watches: archive it; retire the entry once it is terminal, else ask again after its interval. */
function ownRun(entry: RegistryEntry, shown: SegmentTask & { StartTime: number }, now: number, policy: DecisionPolicy): Plan {
  const runPolicy = forRun(entry, policy);
  const next = nextRefresh(entry.deadline, now, runPolicy);
  const change: EntryChange = {
    ...next,
    ...asked(policy),
    ...intervalOf(entry, next.lane === 'refresh' ? runPolicy.refreshMs : undefined),
    ...(entry.state === 'known' ? {} : { state: 'known' as const }),
    ...(entry.refused ? { refused: null } : {}),
  };
  return {
    record: { startTime: shown.StartTime, task: shown, final: isFinal(shown, now, policy) },
    entry: isTerminalStatus(shown.Status) ? { kind: 'retire-if-terminal', otherwise: change } : { kind: 'reschedule', change },
  };
}

/** The interval an ask gives a run (`undefined`: none, clearing the one it had). */
const intervalOf = (entry: RegistryEntry, intervalMs: number | undefined): Pick<EntryChange, 'intervalMs'> =>
  intervalMs !== undefined ? { intervalMs } : entry.intervalMs !== undefined ? { intervalMs: null } : {};

/** The tick of this ask, kept on the run: how long ago it was asked while asks are spaced (waitsToAsk). */
const asked = (policy: DecisionPolicy): { askedTick?: number } => (policy.tick !== undefined ? { askedTick: policy.tick } : {});

/** Final: terminal, or captured inside the margin before the window closes (later captures may still follow). */
function isFinal(shown: SegmentTask & { StartTime: number }, now: number, policy: DecisionPolicy): boolean {
  return isTerminalStatus(shown.Status) || now >= shown.StartTime + WINDOW_MS - policy.finalMarginMs;
}

/** Whether the run Volcengine shows is one this entry should lead to (a newer run of a known one, the announced or named one). */
function namesThisRun(entry: RegistryEntry, shown: SegmentTask & { StartTime: number }): boolean {
  if (entry.kind === 'run') {
    const tolerance = entry.state === 'announced' ? ANNOUNCED_START_TOLERANCE_MS : 0;
    return shown.StartTime > entry.startTime! - tolerance;
  }
  const ended = isTerminalStatus(shown.Status) && (shown.EndTime ?? 0) > 0;
  return !(ended && shown.EndTime! < entry.registeredAt - REGISTRATION_GRACE_MS);
}

/** Volcengine shows no run for the entry (yet): ask again later; a refusal in a row ends, and an activity watch waits as a registration. */
function wait(entry: RegistryEntry, now: number, policy: DecisionPolicy): Plan {
  const change: EntryChange = { ...askAgain(entry, now, policy), ...(entry.refused ? { refused: null } : {}), ...unwatched(entry) };
  return { entry: { kind: 'reschedule', change } };
}

/**
 * Asked again later: a known run in its refresh lane (or ending, near its deadline); an entry
 * Volcengine has not shown a run for yet in the retry lane, read after every other: the first
 * lane is for first asks, the refresh lane for running runs, so registrations that never become
 * runs (asked every ARCHIVE_UNKNOWN_RETRY_MS for 72 h) never go ahead of either.
 */
function askAgain(entry: RegistryEntry, now: number, policy: DecisionPolicy): Due & Pick<EntryChange, 'askedTick'> {
  const known = entry.kind === 'run' && entry.state === 'known';
  const dueAt = nextAsk(now, policy);
  if (!known) return { dueAt, lane: 'retry' };
  // As nextRefresh: an ask that could fall inside the final margin is taken in the ending lane.
  const closingFrom = entry.deadline - policy.finalMarginMs;
  const due: Due =
    dueAt >= closingFrom
      ? nextRefresh(entry.deadline, now, policy)
      : { dueAt, lane: mayMissMargin(dueAt, closingFrom, policy) ? 'ending' : 'refresh' };
  // The wait is not the load's interval: the run keeps the one its last refresh recorded (forRun).
  return { ...due, ...asked(policy) };
}

/**
 * The next time to ask about an entry Volcengine does not show: ARCHIVE_UNKNOWN_RETRY_MS after
 * this ask, so no address is asked about more often than that (with a 5-minute schedule, the
 * first run at or after it takes it: every 15 to 20 minutes with the defaults).
 */
function nextAsk(now: number, policy: DecisionPolicy): number {
  return Math.ceil(now + policy.unknownRetryMs);
}
