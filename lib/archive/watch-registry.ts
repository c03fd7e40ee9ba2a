/**
 * The watch registry: one object per watched task under watch/{deadline}/…, so a LIST returns
 * tasks in earliest-deadline-first order, a page (≤ 1000 keys) at a time. A task whose StartTime
 * is not known yet gets a provisional deadline (its registration hour) until the archiver sees it.
 */
import type { TaskAddress } from '../volc/client.ts';
import { ArchiveKeys } from './keys.ts';
import { ObjectStore, PreconditionFailed } from './object-store.ts';
import { SNAPSHOT_FORMAT_VERSION, type RegistryEntry } from './schemas.ts';

export const WINDOW_MS = 72 * 3_600_000;
const HOUR_MS = 3_600_000;

export interface WatchedTask {
  key: string;
  deadline: number;
  /** The deadline is a placeholder: the task's StartTime was not known when it was registered. */
  provisional: boolean;
  address: TaskAddress;
}

export type RegisterOutcome = 'registered' | 'already-watched';

function registryEntry(address: TaskAddress, startTime: number | undefined, via: RegistryEntry['Via'], now: number): RegistryEntry {
  return {
    FormatVersion: SNAPSHOT_FORMAT_VERSION,
    AppId: address.appId,
    RoomId: address.roomId,
    TaskId: address.taskId,
    StartTime: startTime ?? null,
    RegisteredAt: new Date(now).toISOString(),
    Via: via,
  };
}

export class WatchRegistry {
  constructor(
    readonly store: ObjectStore,
    readonly keys: ArchiveKeys,
  ) {}

  /**
   * Registers a task. With a known StartTime the entry's key is deterministic, so registering
   * again is harmless. Without one, the create-only watch marker makes the first registration win.
   */
  async register(address: TaskAddress, startTime: number | undefined, via: RegistryEntry['Via'], now: number): Promise<RegisterOutcome> {
    const deadline = startTime === undefined ? Math.floor(now / HOUR_MS) * HOUR_MS : startTime + WINDOW_MS;
    const key = this.keys.registryEntry(deadline, address, startTime === undefined);
    const entry = registryEntry(address, startTime, via, now);
    // Entry first, marker second: a crash in between leaves an entry (watched twice at worst), never a marker without one.
    await this.store.putJson(key, entry);
    try {
      await this.store.putJson(this.keys.watchMarker(address), { FormatVersion: SNAPSHOT_FORMAT_VERSION, RegistryKey: key, RegisteredAt: entry.RegisteredAt }, { ifNoneMatch: true });
      return 'registered';
    } catch (error) {
      if (!(error instanceof PreconditionFailed)) throw error;
    }
    if (startTime !== undefined) return 'already-watched';
    const marker = await this.store.getJson(this.keys.watchMarker(address));
    const markedKey = (marker?.body as { RegistryKey?: unknown } | undefined)?.RegistryKey;
    if (markedKey !== key) await this.store.delete(key);
    return 'already-watched';
  }

  /** Moves an entry to its real deadline once StartTime is known. */
  async reschedule(watched: WatchedTask, startTime: number, now: number): Promise<WatchedTask> {
    const deadline = startTime + WINDOW_MS;
    const key = this.keys.registryEntry(deadline, watched.address, false);
    if (key === watched.key) return watched;
    await this.store.putJson(key, registryEntry(watched.address, startTime, 'archiver', now));
    await this.store.delete(watched.key);
    return { key, deadline, provisional: false, address: watched.address };
  }

  async remove(watched: WatchedTask): Promise<void> {
    await this.store.delete(watched.key);
  }

  /** All entries in deadline order; only one LIST page is held at a time. */
  async *entries(): AsyncGenerator<WatchedTask> {
    for await (const key of this.store.keys(this.keys.registry)) {
      const parsed = this.keys.parseRegistryEntry(key);
      if (parsed) yield { key, ...parsed };
    }
  }

  /** Pushes a provisional entry back, for a task Volcengine does not show (yet). */
  async postpone(watched: WatchedTask, until: number): Promise<WatchedTask> {
    const key = this.keys.registryEntry(until, watched.address, true);
    const stored = await this.store.getJson(watched.key);
    await this.store.putJson(key, stored?.body ?? {});
    await this.store.delete(watched.key);
    return { key, deadline: until, provisional: true, address: watched.address };
  }
}
