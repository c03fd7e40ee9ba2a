/**
 * Snapshots of task runs in object storage. Each run has a timeline, an append-only log of every
 * change in capture order (timeline/{Seq}.json, create-only), and latest.json, a copy of its last
 * entry one GET away. A writer appends entry n+1 and then moves latest.json to it with If-Match;
 * only one writer can append n+1, and one that finds n+1 taken rolls latest.json forward to it and
 * tries again, so overlapping writers neither lose nor duplicate an entry. A writer that failed
 * between the two leaves entry n+1 ahead of latest.json: the next writer finds it before deciding
 * anything (the timeline's newest entry is what counts) and rolls latest.json forward to it.
 *
 * Observations are ordered by Volcengine's data, never by the writers' clocks (which differ): a
 * terminal state is never followed by a running one, an equal state adds nothing, and a capture
 * after a final one is final too. CapturedAt is information for readers.
 */
import { createHash } from 'node:crypto';
import {
  isTerminalStatus,
  stripSecrets,
  VOLC_ID_PATTERN,
  type SegmentTask,
  runOf,
  type RunAddress,
  type TaskAddress,
} from '../volc/schemas.ts';
import { untilAborted } from '../deadline.ts';
import { InvalidPageTokenError } from '../errors.ts';
import { InvalidListToken, PreconditionFailed, type ObjectStore, type StoredJson } from './object-store.ts';
import { SNAPSHOT_FORMAT_VERSION, SnapshotFileSchema, type NotFoundFile, type RetiredFile, type SnapshotFile } from './schemas.ts';

/**
 * The archive's object keys (layout of FormatVersion 2). Every id is checked against
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

export interface TimelinePage {
  snapshots: SnapshotFile[];
  /** The Seq to continue after; undefined when the timeline ends here. */
  next: number | undefined;
}

/** A registration that ended unanswered: when it was made, or the StartTime it announced. */
export interface UnansweredRegistration {
  outcome: NotFoundFile['Outcome'];
  registeredAt: number;
  announcedStartTime?: number | undefined;
  code?: string | undefined;
}

const CUT_SHORT = Symbol('cut short');

/** `read`'s value, or CUT_SHORT once `signal` aborts (whether it cut the read or the read goes on). */
function settledBefore<T>(read: Promise<T>, signal: AbortSignal | undefined): Promise<T | typeof CUT_SHORT> {
  return signal ? untilAborted(read, signal).catch((error: unknown) => (signal.aborted ? CUT_SHORT : Promise.reject(error))) : read;
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

/**
 * Whether `input` adds nothing to a run whose newest timeline entry is `previous`: Volcengine never
 * reports a run running again once it ended, so a running state after a terminal one is a stale
 * observation (a slower writer's); an equal state adds something only when it makes the run final.
 */
function addsNothing(previous: SnapshotFile, hash: string, input: SnapshotInput): boolean {
  if (isTerminalStatus(previous.SegmentTask.Status) && !isTerminalStatus(input.task.Status)) return true;
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

  /**
   * The run's newest snapshot: latest.json or, when a writer failed after appending the run's first
   * entry and before writing latest.json, the timeline's last entry (a LIST, only on a miss).
   */
  async newestSnapshot(run: RunAddress): Promise<SnapshotFile | undefined> {
    const latest = await this.latest(run);
    if (latest) return latest;
    let last: string | undefined;
    for await (const key of this.store.keys(this.keys.timeline(run))) last = key;
    const stored = last === undefined ? undefined : await this.store.getJson(last);
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

  /**
   * Whether the archive holds a run of the task other than `run` (its TaskId was reused): one LIST
   * of two keys of the task's run index, newest first.
   */
  async hasOtherRun(run: RunAddress): Promise<boolean> {
    const page = await this.store.listPage(this.keys.runIndexOfTask(run), { maxKeys: 2 });
    return page.keys.some((key) => {
      const indexed = this.keys.parseRunIndexEntry(key, run.appId, run.roomId);
      return indexed !== undefined && indexed.startTime !== run.startTime;
    });
  }

  /** Whether a TaskId of the app was seen reused (markReusesTaskIds): one GET. */
  async reusesTaskIds(appId: string): Promise<boolean> {
    return (await this.store.getJson(this.keys.appReusesTaskIds(appId))) !== undefined;
  }

  /** Records that a TaskId of the app was seen reused, once (create-only): its runs are refreshed as often as the load allows. */
  async markReusesTaskIds(address: TaskAddress, now: number): Promise<void> {
    const record = {
      FormatVersion: SNAPSHOT_FORMAT_VERSION,
      At: new Date(now).toISOString(),
      TaskId: address.taskId,
      RoomId: address.roomId,
    };
    await this.#createOnce(this.keys.appReusesTaskIds(address.appId), record);
  }

  /** Records one observation of a run: a new timeline entry when it changes the run's state or makes it final. */
  async record(run: RunAddress, input: SnapshotInput): Promise<RecordResult> {
    const task = stripSecrets(input.task) as SegmentTask;
    const hash = stateHash(task);
    for (let race = 0; race < MAX_RACES; race++) {
      const current = await this.store.getJson(this.keys.latest(run));
      const previous = current && parseSnapshot(current);
      if (previous && addsNothing(previous, hash, input)) {
        // The timeline may hold an entry past latest.json (a writer failed between the two writes): it is the newest.
        if (await this.#rollForward(run, previous.Seq + 1, current.etag)) continue;
        return { outcome: 'unchanged', previous, latest: previous };
      }
      const snapshot = this.#snapshot(run, input, task, hash, previous);
      if (!(await this.#append(run, snapshot, current?.etag))) continue;
      // The run is listed once it has a snapshot (a listed run always answers); a crash before this is
      // repaired by the next writer, which finds the entry ahead of latest.json and rolls it forward.
      await this.#index(run);
      let latest = snapshot;
      try {
        await this.store.putJson(this.keys.latest(run), snapshot, current ? { ifMatch: current.etag } : { ifNoneMatch: true });
      } catch (error) {
        if (!(error instanceof PreconditionFailed)) throw error;
        // Another writer rolled latest.json forward past our entry (which is in the log): read what it holds now.
        latest = (await this.latest(run)) ?? snapshot;
      }
      return { outcome: 'written', previous, latest };
    }
    throw new Error(`the timeline of a run kept changing under ${MAX_RACES} attempts`);
  }

  async #index(run: RunAddress): Promise<void> {
    await this.store.putJson(this.keys.runIndexEntry(run), { FormatVersion: SNAPSHOT_FORMAT_VERSION, StartTime: run.startTime });
  }

  /** Moves latest.json to timeline entry `seq` if it exists; true when it did (or another writer moved it). */
  async #rollForward(run: RunAddress, seq: number, latestEtag: string | undefined): Promise<boolean> {
    const ahead = await this.store.getJson(this.keys.timelineEntry(run, seq));
    if (!ahead) return false;
    await this.#moveLatest(run, ahead.body, latestEtag);
    return true;
  }

  /** Repairs what a writer that failed after appending `entry` left undone: the run's listing, then latest.json. */
  async #moveLatest(run: RunAddress, entry: unknown, latestEtag: string | undefined): Promise<void> {
    await this.#index(run);
    try {
      await this.store.putJson(this.keys.latest(run), entry, latestEtag ? { ifMatch: latestEtag } : { ifNoneMatch: true });
    } catch (error) {
      if (!(error instanceof PreconditionFailed)) throw error;
    }
  }

  #snapshot(run: RunAddress, input: SnapshotInput, task: SegmentTask, hash: string, previous: SnapshotFile | undefined): SnapshotFile {
    return {
      FormatVersion: SNAPSHOT_FORMAT_VERSION,
      AppId: run.appId,
      RoomId: run.roomId,
      TaskId: run.taskId,
      StartTime: run.startTime,
      Seq: (previous?.Seq ?? 0) + 1,
      CapturedAt: new Date(input.capturedAt).toISOString(),
      StateHash: hash,
      Source: input.source,
      // Nothing follows a final capture but a changed state: that one is final too.
      Final: input.final || (previous?.Final ?? false),
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
    await this.#rollForward(run, snapshot.Seq, latestEtag);
    return false;
  }

  /** Every entry of a run's timeline, in capture order. */
  async timeline(run: RunAddress): Promise<SnapshotFile[]> {
    const snapshots: SnapshotFile[] = [];
    let after: number | undefined;
    do {
      const page = await this.timelinePage(run, { pageSize: 1000, after });
      snapshots.push(...page.snapshots);
      after = page.next;
    } while (after !== undefined);
    return snapshots;
  }

  /**
   * A page of a run's timeline, in capture order: the entries after Seq `after`. Its entries are
   * read in parallel; what `signal` cuts short ends the page early (the entries read so far, in
   * order, and where to go on), so a page answers in time however slow the store is.
   */
  async timelinePage(
    run: RunAddress,
    options: { pageSize: number; after?: number | undefined; signal?: AbortSignal },
  ): Promise<TimelinePage> {
    const startAfter = options.after === undefined ? undefined : this.keys.timelineEntry(run, options.after);
    const page = await this.store.listPage(this.keys.timeline(run), { startAfter, maxKeys: options.pageSize });
    const reads = page.keys.map((key) => this.store.getJson(key).then((stored) => stored && parseSnapshot(stored)));
    // The loop stops at the first read the signal cuts short; the signal cuts the reads after it too, and nothing
    // awaits them: their rejections are handled here, not left unhandled (fatal to a Node process).
    for (const read of reads) read.catch(() => undefined);
    const snapshots: SnapshotFile[] = [];
    for (const read of reads) {
      const snapshot = await settledBefore(read, options.signal);
      if (snapshot === CUT_SHORT) break;
      if (snapshot) snapshots.push(snapshot);
    }
    if (snapshots.length === 0 && page.keys.length > 0) throw options.signal?.reason ?? new Error('the timeline could not be read');
    const complete = snapshots.length === page.keys.length;
    const last = snapshots.at(-1)?.Seq;
    return { snapshots, next: !complete || page.nextToken ? last : undefined };
  }

  /**
   * Records why a run stopped being watched, unless its stored latest snapshot is final; true only
   * for the write that created the record (so a retried retirement counts it once).
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
    return this.#createOnce(this.keys.retired(run), record);
  }

  /**
   * Records a registration that ended without Volcengine ever showing a run for it (or after it
   * kept refusing to answer, with its code); true only for the write that created the record.
   */
  async recordUnanswered(address: TaskAddress, registration: UnansweredRegistration, now: number): Promise<boolean> {
    const record: NotFoundFile = {
      FormatVersion: SNAPSHOT_FORMAT_VERSION,
      Outcome: registration.outcome,
      At: new Date(now).toISOString(),
      RegisteredAt: registration.announcedStartTime === undefined ? new Date(registration.registeredAt).toISOString() : null,
      AnnouncedStartTime: registration.announcedStartTime ?? null,
      ...(registration.code ? { UpstreamCode: registration.code } : {}),
    };
    return this.#createOnce(this.keys.notFound(address, registration.announcedStartTime ?? registration.registeredAt), record);
  }

  async #createOnce(key: string, body: unknown): Promise<boolean> {
    try {
      await this.store.putJson(key, body, { ifNoneMatch: true });
      return true;
    } catch (error) {
      if (error instanceof PreconditionFailed) return false;
      throw error;
    }
  }

  /** Archived runs in a room: TaskIds in key order, each one's runs newest first, a page at a time. */
  async runsInRoom(appId: string, roomId: string, pageSize: number, token: string | undefined): Promise<ArchivedRunPage> {
    const page = await this.store
      .listPage(this.keys.runIndexOfRoom(appId, roomId), { token, maxKeys: pageSize })
      .catch((error: unknown) => {
        if (error instanceof InvalidListToken) throw new InvalidPageTokenError();
        throw error;
      });
    return {
      runs: page.keys.map((key) => this.keys.parseRunIndexEntry(key, appId, roomId)).filter((run): run is ArchivedRun => run !== undefined),
      nextToken: page.nextToken,
    };
  }
}
