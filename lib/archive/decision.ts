/**
 * What the archiver does with one registry entry: pure functions of the entry, Volcengine's
 * answer and the time, apart from the code that applies them to the registry and the archive.
 */
import { startTimeProblem, WINDOW_MS } from '../task.ts';
import { isTerminalStatus, type SegmentTask } from '../volc/schemas.ts';
import type { RegistryKeyFields } from './keys.ts';
import { registeredAtOf, startTimeOf, type EntryTarget } from './watch-registry.ts';

export interface DecisionPolicy {
  /** The final snapshot is taken once now >= deadline - finalMarginMs. */
  finalMarginMs: number;
  /** An entry Volcengine does not show a run for is asked again after this long. */
  unknownRetryMs: number;
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
  | { kind: 'drift'; problem: string };

export type PollDecision =
  /** Not due yet: leave it for a later run. */
  | { kind: 'skip' }
  | { kind: 'poll' }
  /** The deadline passed: no run was ever shown (not-found), or the known run's window closed. */
  | { kind: 'expire'; outcome: 'not-found' | 'window-closed' };

export type AnswerDecision =
  /** Ask again at nextPollAt; the entry keeps its state. */
  | { kind: 'wait'; target: EntryTarget }
  /**
   * Record the shown run (final when terminal or inside the final margin) and point the entry at
   * it; `superseded` is the StartTime of the entry's earlier run that a newer one replaced.
   */
  | { kind: 'observe'; task: SegmentTask; startTime: number; final: boolean; target: EntryTarget; superseded?: number }
  /** Volcengine's answer cannot be placed in time: keep the entry as it is and count it. */
  | { kind: 'keep'; problem: string };

export function beforePoll(entry: RegistryKeyFields, now: number): PollDecision {
  if (now >= entry.deadline) return { kind: 'expire', outcome: entry.state === 'known' ? 'window-closed' : 'not-found' };
  if (now < entry.nextPollAt) return { kind: 'skip' };
  return { kind: 'poll' };
}

/** Reads a GetSegmentTask answer into an Observation; `now` bounds a plausible StartTime. */
export function observe(task: SegmentTask | undefined, now: number): Observation {
  if (!task) return { kind: 'not-shown' };
  if (task.StartTime === undefined) return { kind: 'drift', problem: 'Volcengine answered without StartTime' };
  const problem = startTimeProblem(task.StartTime, now);
  if (problem) return { kind: 'drift', problem: `Volcengine answered a StartTime that is not plausible: ${problem}` };
  return { kind: 'shown', task: task as SegmentTask & { StartTime: number } };
}

export function decide(entry: RegistryKeyFields, observation: Observation, now: number, policy: DecisionPolicy): AnswerDecision {
  if (observation.kind === 'drift') return { kind: 'keep', problem: observation.problem };
  const wait: AnswerDecision = {
    kind: 'wait',
    target: { state: entry.state, startTime: startTimeOf(entry), nextPollAt: nextAsk(now, policy) },
  };
  if (observation.kind === 'not-shown') return wait;
  const shown = observation.task;
  return isThisRegistrationsRun(entry, shown) ? observeRun(entry, shown, now, policy) : wait;
}

/** Whether the run Volcengine shows is the one this entry waits for (or a newer run of a known one). */
function isThisRegistrationsRun(entry: RegistryKeyFields, shown: SegmentTask & { StartTime: number }): boolean {
  const known = startTimeOf(entry);
  if (entry.state === 'known') return shown.StartTime >= known!;
  if (entry.state === 'announced') return shown.StartTime >= known! - ANNOUNCED_START_TOLERANCE_MS;
  const ended = isTerminalStatus(shown.Status) && (shown.EndTime ?? 0) > 0;
  return !(ended && shown.EndTime! < registeredAtOf(entry)! - REGISTRATION_GRACE_MS);
}

function observeRun(
  entry: RegistryKeyFields,
  shown: SegmentTask & { StartTime: number },
  now: number,
  policy: DecisionPolicy,
): AnswerDecision {
  const startTime = shown.StartTime;
  const final = isTerminalStatus(shown.Status) || now >= startTime + WINDOW_MS - policy.finalMarginMs;
  const earlier = startTimeOf(entry);
  const superseded = entry.state === 'known' && earlier !== undefined && startTime > earlier ? earlier : undefined;
  return {
    kind: 'observe',
    task: shown,
    startTime,
    final,
    target: { state: 'known', startTime, nextPollAt: 0 },
    ...(superseded === undefined ? {} : { superseded }),
  };
}

/**
 * The next time to ask about an entry Volcengine does not show: ARCHIVE_UNKNOWN_RETRY_MS after
 * this ask, so no address is asked about more often than that (with a 5-minute schedule, the
 * first run at or after it takes it: every 15 to 20 minutes with the defaults).
 */
function nextAsk(now: number, policy: DecisionPolicy): number {
  return Math.ceil(now + policy.unknownRetryMs);
}
