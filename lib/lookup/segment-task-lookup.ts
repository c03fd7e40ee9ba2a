/**
 * Answers "what is task X doing" about the right run: Volcengine is asked first, and the archive
 * answers only when Volcengine does not show the run asked about (no run, an older one than
 * asked for, a run older than 72 h) or cannot answer. A terminal answer is remembered per
 * instance for at most `terminalTtlMs` (the staleness a caller accepts: a TaskId may be reused
 * for a new run at any time), and concurrent lookups of one run share one upstream call. A live
 * answer for a running task registers it for watching; a terminal one is archived. A lookup
 * without TaskId (a room) is only passed to Volcengine: nothing of it is remembered, registered or archived.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { ArchiveUnavailableError, isThrottle, VolcDeadlineError } from '../errors.ts';
import { untilAborted, type Deadline } from '../deadline.ts';
import type { GetSegmentTaskResult, RoomAddress, SegmentTaskUpstream, WithoutTaskIdResult, WithoutTaskIdUpstream } from '../upstream.ts';
import {
  isTerminalStatus,
  type ApiVersion,
  type SegmentTask,
  runOf,
  startTimeProblem,
  taskIdentity,
  type RunAddress,
  type TaskAddress,
} from '../volc/schemas.ts';
import type { ArchiveAccess } from '../archive/access.ts';
import type { SnapshotFile } from '../archive/schemas.ts';
import type { SnapshotInput } from '../archive/segment-archive.ts';

export interface Answer {
  /** Undefined: Volcengine does not show the run and the archive has nothing of it. */
  task: SegmentTask | undefined;
  upstreamRequestId: string | undefined;
  /** Where the answer came from: Volcengine, this instance's memory of a terminal answer, or the archive. */
  source: 'volcengine' | 'cache' | 'archive';
  /** The archived snapshot, when the answer came from the archive. */
  snapshot?: SnapshotFile;
}

export interface SegmentTaskLookupOptions {
  upstream: SegmentTaskUpstream;
  /** Passes GetSegmentTask without TaskId to Volcengine; without it, TaskId is required. */
  withoutTaskId?: WithoutTaskIdUpstream | undefined;
  /** The whole lookup's budget (quota wait, upstream attempts and archive work together), from which each invocation's deadline is made. */
  deadlineMs: number;
  /** Kept of the deadline for the archive when Volcengine fails (the upstream call gets the rest). */
  archiveReserveMs?: number;
  cacheEntries: number;
  /** How long a terminal answer may be served from this instance's memory. */
  terminalTtlMs: number;
  /** Opens the archive on first use (the S3 client is loaded only then); undefined when there is none. */
  openArchive?: (() => Promise<ArchiveAccess>) | undefined;
  logger?: Logger | undefined;
  now?: () => number;
}

const REGISTERED_MEMORY = 10_000;

type Remembered = Omit<Answer, 'source'> & { at: number };

/**
 * An upstream call under `deadline`, `reserveMs` of it kept for the archive: the client's own
 * timer fires then, and the deadline's signal cancels the call if the invocation ends first.
 */
function upstreamCall({ at, signal }: Deadline, reserveMs: number) {
  return { timeoutMs: Math.max(1, at - performance.now() - reserveMs), signal };
}

export class SegmentTaskLookup {
  readonly #options: SegmentTaskLookupOptions;
  readonly #terminal = new Map<string, Remembered>();
  readonly #inFlight = new Map<string, Promise<Answer>>();
  readonly #registered = new Set<string>();
  readonly #now: () => number;
  #archive: Promise<ArchiveAccess> | undefined;

  constructor(options: SegmentTaskLookupOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The whole lookup's budget (other actions answer within it too). */
  get deadlineMs(): number {
    return this.#options.deadlineMs;
  }

  /** Whether GetSegmentTask without TaskId is passed to Volcengine (else TaskId is required). */
  get passesWithoutTaskId(): boolean {
    return this.#options.withoutTaskId !== undefined;
  }

  /**
   * GetSegmentTask without TaskId: Volcengine is asked every time, within the whole deadline, and
   * its answer is returned as it gave it; nothing is remembered, registered or archived, and the
   * archive is not read (no run can be named). Its errors are the Volcengine client's, as any lookup's.
   */
  async withoutTaskId(version: ApiVersion, room: RoomAddress, deadline: Deadline): Promise<WithoutTaskIdResult> {
    const upstream = this.#options.withoutTaskId;
    if (!upstream) throw new Error('GetSegmentTask without TaskId is not passed to Volcengine by this lookup');
    const answer = await upstream.getSegmentTaskWithoutTaskId(version, room, upstreamCall(deadline, 0));
    if (answer.drift) {
      this.#options.logger?.warn('schema drift: a SegmentTask answered without TaskId does not have the documented shape; passed on', {
        schemaDrift: true,
        fields: answer.drift,
        version,
      });
    }
    return answer;
  }

  get hasArchive(): boolean {
    return this.#options.openArchive !== undefined;
  }

  /**
   * The archive, opened once, its S3 and DynamoDB requests cut when `signal` (an invocation's
   * deadline) aborts; without one, not cut. Throws ArchiveUnavailableError when there is none or it fails to load.
   */
  async archive(signal?: AbortSignal): Promise<ArchiveAccess> {
    const open = this.#options.openArchive;
    if (!open) throw new ArchiveUnavailableError(new Error('no archive is configured'));
    this.#archive ??= open().catch((error: unknown) => {
      this.#archive = undefined;
      throw new ArchiveUnavailableError(error);
    });
    const access = await this.#archive;
    return (signal && access.within?.(signal)) ?? access;
  }

  /**
   * The task's current run, or with `startTime` that run of it, by `deadline`. Concurrent lookups of
   * one run share one answer, worked out under the deadline of the lookup that started it: a lookup
   * that joins it waits no later than its own deadline (then fails as a late Volcengine call does),
   * and its giving up cuts nothing of the shared work, which the first lookup still awaits. One that
   * joins with a later deadline than the first's gets the first's outcome, its timeout too.
   */
  async get(version: ApiVersion, address: TaskAddress, startTime: number | undefined, deadline: Deadline): Promise<Answer> {
    const key = `${version}\n${taskIdentity(address)}\n${startTime ?? ''}`;
    const remembered = this.#terminal.get(key);
    if (remembered && this.#now() - remembered.at < this.#options.terminalTtlMs) {
      const { at: _rememberedAt, ...answer } = remembered;
      return { ...answer, source: 'cache' };
    }
    const pending = this.#inFlight.get(key);
    if (pending) return untilAborted(pending, deadline.signal, () => new VolcDeadlineError());
    const call = this.#answer(version, address, startTime, key, deadline).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, call);
    return call;
  }

  async #answer(
    version: ApiVersion,
    address: TaskAddress,
    startTime: number | undefined,
    key: string,
    deadline: Deadline,
  ): Promise<Answer> {
    // Kept of the deadline for the archive, should Volcengine fail: the upstream call's own timer fires that much sooner.
    const reserve = this.hasArchive ? Math.min(this.#options.archiveReserveMs ?? 0, this.#options.deadlineMs / 4) : 0;
    let live: GetSegmentTaskResult;
    try {
      live = await this.#options.upstream.getSegmentTask(version, address, upstreamCall(deadline, reserve));
    } catch (error) {
      // Refused a slot or throttled: the run may have changed since the archive's answer (a TaskId is reused), so the
      // refusal stands, unless the caller named a run the archive holds terminal or final. Else the client's error stands.
      const refused = isThrottle(error);
      const archived = refused && startTime === undefined ? undefined : await this.#archived(address, startTime, deadline);
      if (archived && (!refused || archived.snapshot?.Final || isTerminalStatus(archived.task?.Status))) return archived;
      throw error;
    }
    const task = live.task;
    if (task && (startTime === undefined || task.StartTime === startTime)) {
      await this.#keep(version, address, task, live.requestId, key, deadline);
      return { task, upstreamRequestId: live.requestId, source: 'volcengine' };
    }
    const archived = await this.#archived(address, startTime, deadline);
    if (archived && isTerminalStatus(archived.task?.Status)) this.#remember(key, archived);
    return archived ?? { task: undefined, upstreamRequestId: live.requestId, source: 'volcengine' };
  }

  /**
   * A live answer: a terminal one is remembered and archived; a running one registered for watching,
   * and archived as its run's first snapshot when this registered the run.
   */
  async #keep(
    version: ApiVersion,
    address: TaskAddress,
    task: SegmentTask,
    requestId: string | undefined,
    key: string,
    deadline: Deadline,
  ): Promise<void> {
    const terminal = isTerminalStatus(task.Status);
    if (terminal) this.#remember(key, { task, upstreamRequestId: requestId });
    const problem = task.StartTime === undefined ? 'no StartTime' : startTimeProblem(task.StartTime, this.#now());
    if (problem) {
      this.#options.logger?.warn('schema drift: a live answer cannot be placed in time, so it is neither archived nor registered', {
        schemaDrift: true,
        problem,
        version,
      });
      return;
    }
    const run = runOf(address, task.StartTime!);
    if (terminal) {
      await this.#bestEffort(
        'archive a terminal answer',
        (access) =>
          access.archive.record(run, { task, capturedAt: this.#now(), source: 'lookup', final: true, upstreamRequestId: requestId }),
        deadline,
        { writes: true },
      );
    } else {
      await this.#register(run, { task, capturedAt: this.#now(), source: 'lookup', final: false, upstreamRequestId: requestId }, deadline);
    }
  }

  /** The archived latest snapshot of the run asked about (the newest archived run when none is named). */
  async #archived(address: TaskAddress, startTime: number | undefined, deadline: Deadline): Promise<Answer | undefined> {
    let snapshot: SnapshotFile | undefined;
    await this.#bestEffort(
      'read the archive',
      async (access) => {
        const run = await access.archive.namedOrNewestRun(address, startTime);
        snapshot = run && (await access.archive.newestSnapshot(run));
      },
      deadline,
    );
    return snapshot && { task: snapshot.SegmentTask, upstreamRequestId: snapshot.UpstreamRequestId, source: 'archive', snapshot };
  }

  /**
   * Registers the run; the lookup that registered it also archives what it saw, so the run is in
   * the archive even when no archiver run reaches it before Volcengine shows a newer run of the
   * TaskId (archiver invocations failing for that long, or a run shorter than a schedule).
   */
  async #register(run: RunAddress, seen: SnapshotInput, deadline: Deadline): Promise<void> {
    const { startTime, ...address } = run;
    const memo = `${taskIdentity(address)}\n${startTime}`;
    if (this.#registered.has(memo)) return;
    await this.#bestEffort(
      'register a task for watching',
      async (access) => {
        const outcome = await access.registry.registerRun(address, startTime, 'lookup', this.#now());
        if (this.#registered.size >= REGISTERED_MEMORY) this.#registered.clear();
        this.#registered.add(memo);
        if (outcome === 'registered') await access.archive.record(run, seen);
      },
      deadline,
      { writes: true },
    );
  }

  /**
   * Archive work on the live path never fails a lookup nor holds it past its deadline: a failure
   * or the deadline is logged and the live answer stands. The wait ends with the deadline, so that
   * nothing (the SDK's backoff between attempts, opening the archive, stores that take no signal)
   * outlasts it. Reads' requests are cut with it too. `writes` are not: what the lookup stopped
   * waiting for goes on within the clients' per-attempt limit, because no later lookup writes it
   * again (a run's first snapshot follows its registration, which the next lookup finds done).
   */
  async #bestEffort(
    what: string,
    work: (access: ArchiveAccess) => Promise<unknown>,
    deadline: Deadline,
    { writes = false }: { writes?: boolean } = {},
  ): Promise<void> {
    if (!this.hasArchive) return;
    try {
      await untilAborted(this.archive(writes ? undefined : deadline.signal).then(work), deadline.signal);
    } catch (error) {
      this.#options.logger?.warn(`could not ${what}`, { error });
    }
  }

  #remember(key: string, answer: Omit<Answer, 'source'>): void {
    if (this.#options.cacheEntries === 0 || this.#options.terminalTtlMs === 0) return;
    this.#terminal.delete(key);
    if (this.#terminal.size >= this.#options.cacheEntries) this.#terminal.delete(this.#terminal.keys().next().value!);
    this.#terminal.set(key, {
      task: answer.task,
      upstreamRequestId: answer.upstreamRequestId,
      ...(answer.snapshot ? { snapshot: answer.snapshot } : {}),
      at: this.#now(),
    });
  }
}
