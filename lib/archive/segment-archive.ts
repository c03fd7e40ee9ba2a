/**
 * Snapshots of segment tasks in object storage: the latest one under a fixed key, and every
 * distinct state once under its content hash. Writes are conditional, so repeated or
 * overlapping writers never corrupt or duplicate anything.
 */
import { createHash } from 'node:crypto';
import type { TaskAddress } from '../volc/client.ts';
import { stripSecrets, type SegmentTask } from '../volc/schemas.ts';
import { ArchiveKeys } from './keys.ts';
import { ObjectStore, PreconditionFailed } from './object-store.ts';
import { SNAPSHOT_FORMAT_VERSION, SnapshotFileSchema, type SnapshotFile } from './schemas.ts';

export interface SnapshotInput {
  task: SegmentTask;
  capturedAt: number;
  source: SnapshotFile['Source'];
  final: boolean;
  upstreamRequestId?: string | undefined;
}

export interface RecordResult {
  outcome: 'written' | 'unchanged';
  /** The latest snapshot before this observation, if there was one. */
  previous: SnapshotFile | undefined;
}

export interface ArchivedTaskPage {
  taskIds: string[];
  nextToken: string | undefined;
}

/** Content hash of a task's state: SHA-256 of its JSON with keys sorted at every depth. */
export function stateHash(task: SegmentTask): string {
  return createHash('sha256').update(stableJson(task)).digest('hex');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

const MAX_LATEST_RACES = 5;

export class SegmentArchive {
  constructor(
    readonly store: ObjectStore,
    readonly keys: ArchiveKeys,
  ) {}

  async latest(address: TaskAddress): Promise<SnapshotFile | undefined> {
    return (await this.#latestWithEtag(address))?.snapshot;
  }

  async #latestWithEtag(address: TaskAddress): Promise<{ snapshot: SnapshotFile; etag: string } | undefined> {
    const stored = await this.store.getJson(this.keys.latest(address));
    if (!stored) return undefined;
    return { snapshot: SnapshotFileSchema.parse(stored.body), etag: stored.etag };
  }

  /**
   * Records one observation. A new state is written under its hash (create-only) before
   * latest.json moves to it; latest.json only ever moves forward in CapturedAt.
   */
  async record(address: TaskAddress, input: SnapshotInput): Promise<RecordResult> {
    const task = stripSecrets(input.task) as SegmentTask;
    const hash = stateHash(task);
    const snapshot: SnapshotFile = {
      FormatVersion: SNAPSHOT_FORMAT_VERSION,
      AppId: address.appId,
      RoomId: address.roomId,
      TaskId: address.taskId,
      CapturedAt: new Date(input.capturedAt).toISOString(),
      StateHash: hash,
      Source: input.source,
      Final: input.final,
      ...(input.upstreamRequestId ? { UpstreamRequestId: input.upstreamRequestId } : {}),
      SegmentTask: task,
    };
    for (let race = 0; race < MAX_LATEST_RACES; race++) {
      const current = await this.#latestWithEtag(address);
      const previous = current?.snapshot;
      if (previous) {
        if (previous.StateHash === hash && (previous.Final || !input.final)) return { outcome: 'unchanged', previous };
        if (Date.parse(previous.CapturedAt) > input.capturedAt) return { outcome: 'unchanged', previous }; // a newer observation is already there
      }
      if (!current || current.snapshot.StateHash !== hash) await this.#writeState(address, hash, snapshot);
      try {
        await this.store.putJson(this.keys.latest(address), snapshot, current ? { ifMatch: current.etag } : { ifNoneMatch: true });
        return { outcome: 'written', previous };
      } catch (error) {
        if (!(error instanceof PreconditionFailed)) throw error;
      }
    }
    throw new Error(`latest snapshot of a task kept changing under ${MAX_LATEST_RACES} attempts`);
  }

  async #writeState(address: TaskAddress, hash: string, snapshot: SnapshotFile): Promise<void> {
    try {
      await this.store.putJson(this.keys.state(address, hash), snapshot, { ifNoneMatch: true });
    } catch (error) {
      if (!(error instanceof PreconditionFailed)) throw error; // the state was captured before: keep its first capture
    }
  }

  /** Every distinct state of a task, oldest first. */
  async timeline(address: TaskAddress): Promise<SnapshotFile[]> {
    const snapshots: SnapshotFile[] = [];
    for await (const key of this.store.keys(this.keys.states(address))) {
      const stored = await this.store.getJson(key);
      if (stored) snapshots.push(SnapshotFileSchema.parse(stored.body));
    }
    return snapshots.sort((a, b) => a.CapturedAt.localeCompare(b.CapturedAt));
  }

  /** Task ids archived in a room, in key order, one page at a time. */
  async tasksInRoom(appId: string, roomId: string, pageSize: number, token: string | undefined): Promise<ArchivedTaskPage> {
    const page = await this.store.listPage(this.keys.room(appId, roomId), { token, maxKeys: pageSize, delimiter: '/' });
    return {
      taskIds: page.prefixes.map((p) => this.keys.taskIdOfPrefix(p)).filter((id): id is string => id !== undefined),
      nextToken: page.nextToken,
    };
  }
}
