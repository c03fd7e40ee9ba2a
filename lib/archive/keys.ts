/**
 * Object keys of the archive (layout of FormatVersion 2). Every id is checked against
 * Volcengine's id rule and written as "~" + id, so no id can be "." or "..", contain "/", escape
 * its prefix or collide with another task's key. Times are epoch ms in 13 digits, so keys list in
 * time order. A run is a task address plus its StartTime; every run has its own history.
 *
 *   tasks/~{App}/~{Room}/~{Task}/runs/{StartTime}/latest.json          latest snapshot of the run
 *   tasks/~{App}/~{Room}/~{Task}/runs/{StartTime}/timeline/{Seq}.json  every change, in capture order
 *   tasks/~{App}/~{Room}/~{Task}/runs/{StartTime}/retired.json         why watching ended early
 *   tasks/~{App}/~{Room}/~{Task}/not-found/{RegisteredAt}.json         a registration no run answered
 *   tasks/~{App}/task-ids-reused.json                                  the app reuses TaskIds (the archiver's refresh interval)
 *   tasks/~{App}/~{Room}/~{Task}/events/{sha256(EventId)}.json         raw callback events (earlier versions only)
 *   runs/~{App}/~{Room}/~{Task}/{newest-first StartTime}               index of archived runs
 *   callbacks/unmatched/~{App}/{sha256(EventId)}.json                  events whose task is unknown (earlier versions only)
 *
 * Callbacks no longer write raw events: they are published to the stack's event bus (README).
 *
 * What is being watched is not here: the watch registry lives in DynamoDB (lib/archive/registry.ts).
 */
import { VOLC_ID_PATTERN } from '../volc/schemas.ts';
import type { RunAddress, TaskAddress } from '../task.ts';

export class UnsafeIdError extends Error {
  override name = 'UnsafeIdError';
}

const TIME_DIGITS = 13;
const LATEST_FIRST = 9_999_999_999_999;
const SEQ_DIGITS = 8;

export function segment(id: string): string {
  if (!VOLC_ID_PATTERN.test(id)) throw new UnsafeIdError('an id does not match [a-zA-Z0-9_@.-]{1,128}');
  return `~${id}`;
}

function unsegment(part: string | undefined): string | undefined {
  if (!part?.startsWith('~')) return undefined;
  const id = part.slice(1);
  return VOLC_ID_PATTERN.test(id) ? id : undefined;
}

/** A time as 13 digits; RangeError for anything that does not fit (a key the parser could not read). */
export function timeDigits(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > LATEST_FIRST)
    throw new RangeError('a time in a key must be epoch ms of at most 13 digits');
  return String(ms).padStart(TIME_DIGITS, '0');
}

const parseTime = (text: string | undefined): number | undefined =>
  text !== undefined && /^\d{13}$/.test(text) ? Number(text) : undefined;

/** Event ids are arbitrary text; keys use their hash. */

export class ArchiveKeys {
  constructor(readonly prefix: string) {}

  task(address: TaskAddress): string {
    return `${this.prefix}tasks/${segment(address.appId)}/${segment(address.roomId)}/${segment(address.taskId)}/`;
  }

  run(run: RunAddress): string {
    return `${this.task(run)}runs/${timeDigits(run.startTime)}/`;
  }

  latest(run: RunAddress): string {
    return `${this.run(run)}latest.json`;
  }

  timeline(run: RunAddress): string {
    return `${this.run(run)}timeline/`;
  }

  timelineEntry(run: RunAddress, seq: number): string {
    return `${this.timeline(run)}${String(seq).padStart(SEQ_DIGITS, '0')}.json`;
  }

  retired(run: RunAddress): string {
    return `${this.run(run)}retired.json`;
  }

  /** Present once a TaskId of the app was seen with two runs (ids are "~"-prefixed: no room's folder can be this name). */
  appReusesTaskIds(appId: string): string {
    return `${this.prefix}tasks/${segment(appId)}/task-ids-reused.json`;
  }

  notFound(address: TaskAddress, registeredAt: number): string {
    return `${this.task(address)}not-found/${timeDigits(registeredAt)}.json`;
  }

  /** The run index of a room: LIST gives TaskIds in key order, each one's runs newest first. */
  runIndexOfRoom(appId: string, roomId: string): string {
    return `${this.prefix}runs/${segment(appId)}/${segment(roomId)}/`;
  }

  runIndexOfTask(address: TaskAddress): string {
    return `${this.runIndexOfRoom(address.appId, address.roomId)}${segment(address.taskId)}/`;
  }

  runIndexEntry(run: RunAddress): string {
    return `${this.runIndexOfTask(run)}${timeDigits(LATEST_FIRST - run.startTime)}`;
  }

  /** Reads a run-index key back (TaskId and StartTime); undefined for anything else. */
  parseRunIndexEntry(key: string, appId: string, roomId: string): { taskId: string; startTime: number } | undefined {
    const room = this.runIndexOfRoom(appId, roomId);
    if (!key.startsWith(room)) return undefined;
    const [task, inverted, ...rest] = key.slice(room.length).split('/');
    const taskId = unsegment(task);
    const time = parseTime(inverted);
    if (rest.length || !taskId || time === undefined) return undefined;
    return { taskId, startTime: LATEST_FIRST - time };
  }
}
