/**
 * Object keys of the archive. Every id is checked against Volcengine's id rule and written as
 * "~" + id, so no id can be "." or "..", contain "/", escape its prefix or collide with another
 * task's key.
 *
 *   {prefix}tasks/~{AppId}/~{RoomId}/~{TaskId}/latest.json         latest snapshot, one GET away
 *   {prefix}tasks/~{AppId}/~{RoomId}/~{TaskId}/states/{hash}.json  each distinct state, once
 *   {prefix}tasks/~{AppId}/~{RoomId}/~{TaskId}/watch.json          registration marker
 *   {prefix}tasks/~{AppId}/~{RoomId}/~{TaskId}/retired.json        why watching ended, when abnormal
 *   {prefix}tasks/~{AppId}/~{RoomId}/~{TaskId}/events/{sha256(EventId)}.json   raw callback events
 *   {prefix}callbacks/unmatched/~{AppId}/{sha256(EventId)}.json    events whose task could not be found
 *   {prefix}watch/{deadline}{k|p}/~{AppId}/~{RoomId}/~{TaskId}     registry entry; deadline = epoch ms in
 *                                                                  13 digits, so keys list in deadline order;
 *                                                                  k = known StartTime, p = provisional
 */
import { createHash } from 'node:crypto';
import { VOLC_ID_PATTERN } from '../volc/schemas.ts';
import type { TaskAddress } from '../volc/client.ts';

export class UnsafeIdError extends Error {}

const DEADLINE_DIGITS = 13;

export function segment(id: string): string {
  if (!VOLC_ID_PATTERN.test(id)) throw new UnsafeIdError('an id does not match [a-zA-Z0-9_@.-]{1,128}');
  return `~${id}`;
}

function unsegment(part: string | undefined): string | undefined {
  if (!part?.startsWith('~')) return undefined;
  const id = part.slice(1);
  return VOLC_ID_PATTERN.test(id) ? id : undefined;
}

/** Event ids are arbitrary text; keys use their hash. */
const eventKey = (eventId: string) => createHash('sha256').update(eventId).digest('hex');

export class ArchiveKeys {
  constructor(readonly prefix: string) {}

  room(appId: string, roomId: string): string {
    return `${this.prefix}tasks/${segment(appId)}/${segment(roomId)}/`;
  }

  task(address: TaskAddress): string {
    return `${this.room(address.appId, address.roomId)}${segment(address.taskId)}/`;
  }

  latest(address: TaskAddress): string {
    return `${this.task(address)}latest.json`;
  }

  states(address: TaskAddress): string {
    return `${this.task(address)}states/`;
  }

  state(address: TaskAddress, hash: string): string {
    return `${this.states(address)}${hash}.json`;
  }

  watchMarker(address: TaskAddress): string {
    return `${this.task(address)}watch.json`;
  }

  retired(address: TaskAddress): string {
    return `${this.task(address)}retired.json`;
  }

  event(address: TaskAddress, eventId: string): string {
    return `${this.task(address)}events/${eventKey(eventId)}.json`;
  }

  /** Events whose task is unknown; an AppId that is not a valid id goes under "_invalid". */
  unmatchedEvent(appId: string, eventId: string): string {
    const app = VOLC_ID_PATTERN.test(appId) ? segment(appId) : '_invalid';
    return `${this.prefix}callbacks/unmatched/${app}/${eventKey(eventId)}.json`;
  }

  get registry(): string {
    return `${this.prefix}watch/`;
  }

  registryEntry(deadline: number, address: TaskAddress, provisional: boolean): string {
    const padded = String(Math.max(0, Math.floor(deadline))).padStart(DEADLINE_DIGITS, '0');
    return `${this.registry}${padded}${provisional ? 'p' : 'k'}/${segment(address.appId)}/${segment(address.roomId)}/${segment(address.taskId)}`;
  }

  /** Reads a registry key back; undefined for anything that is not one of ours. */
  parseRegistryEntry(key: string): { deadline: number; provisional: boolean; address: TaskAddress } | undefined {
    if (!key.startsWith(this.registry)) return undefined;
    const [deadline, app, room, task, ...rest] = key.slice(this.registry.length).split('/');
    const appId = unsegment(app);
    const roomId = unsegment(room);
    const taskId = unsegment(task);
    const match = /^(\d{13})([kp])$/.exec(deadline ?? '');
    if (rest.length || !match || !appId || !roomId || !taskId) return undefined;
    return { deadline: Number(match[1]), provisional: match[2] === 'p', address: { appId, roomId, taskId } };
  }

  /** The TaskId of a "tasks/~app/~room/~task/" common prefix. */
  taskIdOfPrefix(prefix: string): string | undefined {
    return unsegment(prefix.replace(/\/$/, '').split('/').at(-1));
  }
}
