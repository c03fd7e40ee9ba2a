/**
 * The watch registry: one entry per watched task address under
 * watch/{Deadline}{k|a|p}/{NextPollAt}/…, so a LIST returns entries earliest deadline first, a
 * page (≤ 1000 keys) at a time, and the archiver reads all it needs from the key. An entry keeps
 * apart what it knows:
 *   - state: the run's StartTime is known (seen from Volcengine), announced (a caller said when
 *     it starts) or unknown (a callback named the task);
 *   - deadline: StartTime + 72 h when known or announced; registration + 72 h when unknown;
 *   - next poll time: 0 for a known run (polled every archiver run), else when to ask again.
 * An address has one entry at a time, marked by tasks/…/watch.json (which names the key the entry
 * was registered under); retiring the entry removes the marker, so a later run of the same address
 * is watched again when anything names it.
 */
import { WINDOW_MS, taskIdentity, type TaskAddress } from '../task.ts';
import type { ArchiveKeys, RegistryKeyFields, RegistryState } from './keys.ts';
import { PreconditionFailed, type ObjectStore } from './object-store.ts';
import { SNAPSHOT_FORMAT_VERSION, type NotFoundFile, type RegistrationVia, type RegistryEntry } from './schemas.ts';

export interface WatchedEntry extends RegistryKeyFields {
  key: string;
  identity: string;
}

export type RegisterOutcome = 'registered' | 'already-watched';

/** Where an entry goes next: its state, the StartTime it knows (unless unknown) and when to poll it. */
export interface EntryTarget {
  state: RegistryState;
  startTime?: number | undefined;
  nextPollAt: number;
}

/** Registrations from Volcengine's own answers know the StartTime; a caller's WatchSegmentTask only announces it. */
const STATE_OF_VIA: Record<RegistrationVia, RegistryState> = {
  lookup: 'known',
  archiver: 'known',
  watch: 'announced',
  callback: 'unknown',
};

/** The StartTime an entry knows or was announced, and when an unknown one was registered. */
export const startTimeOf = (entry: RegistryKeyFields): number | undefined =>
  entry.state === 'unknown' ? undefined : entry.deadline - WINDOW_MS;
export const registeredAtOf = (entry: RegistryKeyFields): number | undefined =>
  entry.state === 'unknown' ? entry.deadline - WINDOW_MS : undefined;

export class WatchRegistry {
  constructor(
    readonly store: ObjectStore,
    readonly keys: ArchiveKeys,
  ) {}

  /**
   * Watches an address unless it is watched already. The entry is written before the marker, so
   * a crash in between leaves an entry (watched twice at worst), never a marker without an entry.
   */
  async register(address: TaskAddress, startTime: number | undefined, via: RegistrationVia, now: number): Promise<RegisterOutcome> {
    if (await this.store.getJson(this.keys.watchMarker(address))) return 'already-watched';
    const state: RegistryState = startTime === undefined ? 'unknown' : STATE_OF_VIA[via];
    // A known run is polled on every archiver run; an announced one from its StartTime on; an unknown one from the next run.
    const firstPoll = state === 'known' ? 0 : state === 'announced' ? Math.max(now, startTime!) : now;
    const fields: RegistryKeyFields = { address, state, deadline: (startTime ?? now) + WINDOW_MS, nextPollAt: firstPoll };
    const key = this.keys.registryEntry(fields);
    await this.store.putJson(key, entryBody(fields, now, via));
    const marker = { FormatVersion: SNAPSHOT_FORMAT_VERSION, RegisteredAt: new Date(now).toISOString(), Via: via, RegistryKey: key };
    try {
      await this.store.putJson(this.keys.watchMarker(address), marker, { ifNoneMatch: true });
      return 'registered';
    } catch (error) {
      if (!(error instanceof PreconditionFailed)) throw error;
    }
    // A concurrent registration won; remove our entry unless it is the very key the winner wrote.
    const winner = (await this.store.getJson(this.keys.watchMarker(address)))?.body as { RegistryKey?: unknown } | undefined;
    if (winner?.RegistryKey !== key) await this.store.delete(key);
    return 'already-watched';
  }

  /** All entries, earliest deadline first; only one LIST page is held at a time. */
  async *entries(): AsyncGenerator<WatchedEntry> {
    for await (const key of this.store.keys(this.keys.registry)) {
      const fields = this.keys.parseRegistryEntry(key);
      if (fields) yield { key, identity: taskIdentity(fields.address), ...fields };
    }
  }

  /** How many entries the registry holds (one LIST page at a time). */
  async count(): Promise<number> {
    let count = 0;
    for await (const _ of this.entries()) count++;
    return count;
  }

  /** Moves an entry to a new state or poll time (new key first, then the old one goes). */
  async move(entry: WatchedEntry, target: EntryTarget, now: number): Promise<WatchedEntry> {
    const fields: RegistryKeyFields = {
      address: entry.address,
      state: target.state,
      deadline: target.state === 'unknown' ? entry.deadline : target.startTime! + WINDOW_MS,
      nextPollAt: target.nextPollAt,
    };
    const key = this.keys.registryEntry(fields);
    if (key === entry.key) return entry;
    const moved: WatchedEntry = { ...fields, key, identity: entry.identity };
    const stored = (await this.store.getJson(entry.key))?.body as Partial<RegistryEntry> | undefined;
    if (!stored) return moved; // an overlapping run moved or retired it already
    const registeredAt = stored.RegisteredAt ? Date.parse(stored.RegisteredAt) : now;
    await this.store.putJson(key, entryBody(fields, registeredAt, stored.Via ?? 'archiver'));
    await this.store.delete(entry.key);
    return moved;
  }

  /** Ends watching: the marker goes first, so a crash leaves an entry the next run retires again. */
  async retire(entry: WatchedEntry): Promise<void> {
    await this.store.delete(this.keys.watchMarker(entry.address));
    await this.store.delete(entry.key);
  }

  /** Ends watching a registration Volcengine never showed a run for, leaving a record of it. */
  async retireNotFound(entry: WatchedEntry, now: number): Promise<void> {
    const registeredAt = registeredAtOf(entry);
    const record: NotFoundFile = {
      FormatVersion: SNAPSHOT_FORMAT_VERSION,
      Outcome: 'not-found',
      At: new Date(now).toISOString(),
      RegisteredAt: registeredAt === undefined ? null : new Date(registeredAt).toISOString(),
      AnnouncedStartTime: startTimeOf(entry) ?? null,
    };
    await this.store.putJson(this.keys.notFound(entry.address, registeredAt ?? startTimeOf(entry)!), record);
    await this.retire(entry);
  }
}

function entryBody(fields: RegistryKeyFields, registeredAt: number, via: RegistrationVia): RegistryEntry {
  const startTime = startTimeOf(fields);
  return {
    FormatVersion: SNAPSHOT_FORMAT_VERSION,
    AppId: fields.address.appId,
    RoomId: fields.address.roomId,
    TaskId: fields.address.taskId,
    State: fields.state,
    StartTime: startTime ?? null,
    RegisteredAt: new Date(registeredAt).toISOString(),
    Deadline: new Date(fields.deadline).toISOString(),
    NextPollAt: fields.nextPollAt === 0 ? null : new Date(fields.nextPollAt).toISOString(),
    Via: via,
  };
}
