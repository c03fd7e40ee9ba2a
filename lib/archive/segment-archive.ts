/**
 * Snapshots of task runs in object storage. Each run has a timeline, an append-only log of every
 * change in capture order (timeline/{Seq}.json, create-only), and latest.json, a copy of its last
 * entry one GET away. A writer appends entry n+1 and then moves latest.json to it with If-Match;
 * only one writer can append n+1, and one that finds n+1 taken rolls latest.json forward to it and
 * tries again, so overlapping writers neither lose nor duplicate an entry.
 */
import { createHash } from 'node:crypto';
import { runOf, type RunAddress, type TaskAddress } from '../task.ts';
import { stripSecrets, type SegmentTask } from '../volc/schemas.ts';
import type { ArchiveKeys } from './keys.ts';
import { InvalidParameterError } from '../errors.ts';
import { InvalidListToken, PreconditionFailed, type ObjectStore, type StoredJson } from './object-store.ts';
import { SNAPSHOT_FORMAT_VERSION, SnapshotFileSchema, type RetiredFile, type SnapshotFile } from './schemas.ts';

export interface SnapshotInput {
  task: SegmentTask;
  capturedAt: number;
  source: SnapshotFile['Source'];
  final: boolean;
  upstreamRequestId?: string | undefined;
}

export interface RecordResult {
  outcome: 'written' | 'unchanged';
  /** The run's latest snapshot before this observation, if there was one. */
  previous: SnapshotFile | undefined;
  /** The run's latest stored snapshot after this observation (ours, or a newer one). */
  latest: SnapshotFile;
}

export interface ArchivedRun {
  taskId: string;
  startTime: number;
}

export interface ArchivedRunPage {
  runs: ArchivedRun[];
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

const MAX_RACES = 5;
const parseSnapshot = (stored: StoredJson) => SnapshotFileSchema.parse(stored.body);

/** Whether `input` adds nothing to a run whose latest snapshot is `previous`. */
function addsNothing(previous: SnapshotFile, hash: string, input: SnapshotInput): boolean {
  if (Date.parse(previous.CapturedAt) > input.capturedAt) return true; // a newer observation is already there
  return previous.StateHash === hash && (previous.Final || !input.final);
}

export class SegmentArchive {
  constructor(
    readonly store: ObjectStore,
    readonly keys: ArchiveKeys,
  ) {}

  async latest(run: RunAddress): Promise<SnapshotFile | undefined> {
    const stored = await this.store.getJson(this.keys.latest(run));
    return stored && parseSnapshot(stored);
  }

  /** The run a caller names by its StartTime or, when none is named, the newest archived run of the task (if any). */
  async namedOrNewestRun(address: TaskAddress, startTime: number | undefined): Promise<RunAddress | undefined> {
    if (startTime !== undefined) return runOf(address, startTime);
    const page = await this.store.listPage(this.keys.runIndexOfTask(address), { maxKeys: 1 });
    const key = page.keys[0];
    const newest = key === undefined ? undefined : this.keys.parseRunIndexEntry(key, address.appId, address.roomId)?.startTime;
    return newest === undefined ? undefined : runOf(address, newest);
  }

  /** Records one observation of a run: a new timeline entry when it changes the run's state or makes it final. */
  async record(run: RunAddress, input: SnapshotInput): Promise<RecordResult> {
    const task = stripSecrets(input.task) as SegmentTask;
    const hash = stateHash(task);
    for (let race = 0; race < MAX_RACES; race++) {
      const current = await this.store.getJson(this.keys.latest(run));
      const previous = current && parseSnapshot(current);
      if (previous && addsNothing(previous, hash, input)) return { outcome: 'unchanged', previous, latest: previous };
      if (!previous)
        await this.store.putJson(this.keys.runIndexEntry(run), { FormatVersion: SNAPSHOT_FORMAT_VERSION, StartTime: run.startTime });
      const snapshot = this.#snapshot(run, input, task, hash, (previous?.Seq ?? 0) + 1);
      if (!(await this.#append(run, snapshot, current?.etag))) continue;
      try {
        await this.store.putJson(this.keys.latest(run), snapshot, current ? { ifMatch: current.etag } : { ifNoneMatch: true });
        return { outcome: 'written', previous, latest: snapshot };
      } catch (error) {
        if (!(error instanceof PreconditionFailed)) throw error;
        // Another writer rolled latest.json forward past our entry (which is in the log): read what it holds now.
        return { outcome: 'written', previous, latest: (await this.latest(run)) ?? snapshot };
      }
    }
    throw new Error(`the timeline of a run kept changing under ${MAX_RACES} attempts`);
  }

  #snapshot(run: RunAddress, input: SnapshotInput, task: SegmentTask, hash: string, seq: number): SnapshotFile {
    return {
      FormatVersion: SNAPSHOT_FORMAT_VERSION,
      AppId: run.appId,
      RoomId: run.roomId,
      TaskId: run.taskId,
      StartTime: run.startTime,
      Seq: seq,
      CapturedAt: new Date(input.capturedAt).toISOString(),
      StateHash: hash,
      Source: input.source,
      Final: input.final,
      ...(input.upstreamRequestId ? { UpstreamRequestId: input.upstreamRequestId } : {}),
      SegmentTask: task,
    };
  }

  /**
   * Appends `snapshot` to the run's log; false when another writer took its Seq first (latest.json
   * is then rolled forward to that entry).
   */
  async #append(run: RunAddress, snapshot: SnapshotFile, latestEtag: string | undefined): Promise<boolean> {
    try {
      await this.store.putJson(this.keys.timelineEntry(run, snapshot.Seq), snapshot, { ifNoneMatch: true });
      return true;
    } catch (error) {
      if (!(error instanceof PreconditionFailed)) throw error;
    }
    const taken = await this.store.getJson(this.keys.timelineEntry(run, snapshot.Seq));
    if (taken) {
      try {
        await this.store.putJson(this.keys.latest(run), taken.body, latestEtag ? { ifMatch: latestEtag } : { ifNoneMatch: true });
      } catch (error) {
        if (!(error instanceof PreconditionFailed)) throw error;
      }
    }
    return false;
  }

  /** Every entry of a run's timeline, in capture order. */
  async timeline(run: RunAddress): Promise<SnapshotFile[]> {
    const snapshots: SnapshotFile[] = [];
    for await (const key of this.store.keys(this.keys.timeline(run))) {
      const stored = await this.store.getJson(key);
      if (stored) snapshots.push(parseSnapshot(stored));
    }
    return snapshots;
  }

  /**
   * Records why a run stopped being watched, unless its stored latest snapshot is final; true when
   * it was not (the run ended without a final snapshot).
   */
  async markUnfinished(run: RunAddress, outcome: RetiredFile['Outcome'], now: number): Promise<boolean> {
    const latest = await this.latest(run);
    if (latest?.Final) return false;
    const record: RetiredFile = {
      FormatVersion: SNAPSHOT_FORMAT_VERSION,
      Outcome: outcome,
      At: new Date(now).toISOString(),
      HadSnapshot: latest !== undefined,
      StartTime: run.startTime,
    };
    await this.store.putJson(this.keys.retired(run), record);
    return true;
  }

  /** Stores a raw callback event once per EventId, under its task or, when that is unknown, under its AppId. */
  async storeEvent(address: TaskAddress | undefined, appId: string, eventId: string, event: unknown): Promise<'stored' | 'duplicate'> {
    const key = address ? this.keys.event(address, eventId) : this.keys.unmatchedEvent(appId, eventId);
    try {
      await this.store.putJson(key, event, { ifNoneMatch: true });
      return 'stored';
    } catch (error) {
      if (error instanceof PreconditionFailed) return 'duplicate';
      throw error;
    }
  }

  /** Archived runs in a room: TaskIds in key order, each one's runs newest first, a page at a time. */
  async runsInRoom(appId: string, roomId: string, pageSize: number, token: string | undefined): Promise<ArchivedRunPage> {
    const page = await this.store
      .listPage(this.keys.runIndexOfRoom(appId, roomId), { token, maxKeys: pageSize })
      .catch((error: unknown) => {
        if (error instanceof InvalidListToken) throw new InvalidParameterError('PageToken', 'it is not a token this API returned');
        throw error;
      });
    return {
      runs: page.keys.map((key) => this.keys.parseRunIndexEntry(key, appId, roomId)).filter((run): run is ArchivedRun => run !== undefined),
      nextToken: page.nextToken,
    };
  }
}
