/**
 * Object keys of the archive (layout of FormatVersion 2). Every id is checked against
 * Volcengine's id rule and written as "~" + id, so no id can be "." or "..", contain "/", escape
 * its prefix or collide with another task's key. Times are epoch ms in 13 digits, so keys list in
 * time order. A run is a task address plus its StartTime; every run has its own history.
 *
 *   tasks/~{App}/~{Room}/~{Task}/runs/{StartTime}/latest.json          latest snapshot of the run
 *   tasks/~{App}/~{Room}/~{Task}/runs/{StartTime}/timeline/{Seq}.json  every change, in capture order
 *   tasks/~{App}/~{Room}/~{Task}/runs/{StartTime}/retired.json         why watching ended early
 *   tasks/~{App}/~{Room}/~{Task}/watch.json                            the address is being watched
 *   tasks/~{App}/~{Room}/~{Task}/not-found/{RegisteredAt}.json         a registration no run answered
 *   tasks/~{App}/~{Room}/~{Task}/events/{sha256(EventId)}.json         raw callback events
 *   runs/~{App}/~{Room}/~{Task}/{newest-first StartTime}               index of archived runs
 *   callbacks/unmatched/~{App}/{sha256(EventId)}.json                  events whose task is unknown
 *   watch/{Deadline}{k|a|p}/{NextPollAt}/~{App}/~{Room}/~{Task}        the watch registry
 */
import { createHash } from 'node:crypto';
import { VOLC_ID_PATTERN } from '../volc/schemas.ts';
import type { RunAddress, TaskAddress } from '../task.ts';

export class UnsafeIdError extends Error {
  override name = 'UnsafeIdError';
}

const TIME_DIGITS = 13;
const LATEST_FIRST = 9_999_999_999_999;
const SEQ_DIGITS = 8;

/** How much is known of a watched run's StartTime: seen from Volcengine, announced by a caller, or nothing yet. */
export type RegistryState = 'known' | 'announced' | 'unknown';
const STATE_LETTER: Record<RegistryState, string> = { known: 'k', announced: 'a', unknown: 'p' };
const LETTER_STATE: Record<string, RegistryState> = { k: 'known', a: 'announced', p: 'unknown' };

export interface RegistryKeyFields {
  deadline: number;
  state: RegistryState;
  nextPollAt: number;
  address: TaskAddress;
}

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
const eventKey = (eventId: string) => createHash('sha256').update(eventId).digest('hex');

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

  watchMarker(address: TaskAddress): string {
    return `${this.task(address)}watch.json`;
  }

  notFound(address: TaskAddress, registeredAt: number): string {
    return `${this.task(address)}not-found/${timeDigits(registeredAt)}.json`;
  }

  event(address: TaskAddress, eventId: string): string {
    return `${this.task(address)}events/${eventKey(eventId)}.json`;
  }

  /** Events whose task is unknown; an AppId that is not a valid id goes under "_invalid". */
  unmatchedEvent(appId: string, eventId: string): string {
    const app = VOLC_ID_PATTERN.test(appId) ? segment(appId) : '_invalid';
    return `${this.prefix}callbacks/unmatched/${app}/${eventKey(eventId)}.json`;
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

  get registry(): string {
    return `${this.prefix}watch/`;
  }

  registryEntry(fields: RegistryKeyFields): string {
    const { address } = fields;
    const ids = `${segment(address.appId)}/${segment(address.roomId)}/${segment(address.taskId)}`;
    return `${this.registry}${timeDigits(fields.deadline)}${STATE_LETTER[fields.state]}/${timeDigits(fields.nextPollAt)}/${ids}`;
  }

  /** Reads a registry key back; undefined for anything that is not one of ours. */
  parseRegistryEntry(key: string): RegistryKeyFields | undefined {
    if (!key.startsWith(this.registry)) return undefined;
    const [deadlinePart, nextPoll, app, room, task, ...rest] = key.slice(this.registry.length).split('/');
    const match = /^(\d{13})([kap])$/.exec(deadlinePart ?? '');
    const nextPollAt = parseTime(nextPoll);
    const appId = unsegment(app);
    const roomId = unsegment(room);
    const taskId = unsegment(task);
    if (rest.length || !match || nextPollAt === undefined || !appId || !roomId || !taskId) return undefined;
    return { deadline: Number(match[1]), state: LETTER_STATE[match[2]!]!, nextPollAt, address: { appId, roomId, taskId } };
  }
}
