/**
 * Answers "what is task X doing": live from Volcengine while it can, from the archive when it
 * cannot. It spares the 60 QPS quota: terminal answers (Status 3/4 never change) come from
 * memory or the archive, and concurrent lookups of one task share one upstream call. A live
 * answer for a running task registers it for watching; a terminal one is archived.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { AppError } from '../errors.ts';
import { taskIdentity, type VolcClient, type TaskAddress } from '../volc/client.ts';
import { isTerminalStatus, type ApiVersion, type SegmentTask } from '../volc/schemas.ts';
import type { ArchiveAccess } from '../archive/access.ts';
import type { SnapshotFile } from '../archive/schemas.ts';
import { upstreamFailureToAppError } from './errors.ts';

export interface Answer {
  /** Undefined: Volcengine does not know the task and the archive has nothing. */
  task: SegmentTask | undefined;
  upstreamRequestId: string | undefined;
  /** Where the answer came from: Volcengine, this instance's memory of a terminal task, or the archive. */
  source: 'volcengine' | 'cache' | 'archive';
  /** The archived snapshot, when source is "archive". */
  snapshot?: SnapshotFile;
}

export interface SegmentTaskLookupOptions {
  client: VolcClient;
  deadlineMs: number;
  cacheEntries: number;
  /** Opens the archive on first use (the S3 client is loaded only then); undefined when there is none. */
  openArchive?: (() => Promise<ArchiveAccess>) | undefined;
  logger?: Logger | undefined;
  now?: () => number;
}

export class ArchiveUnavailableError extends AppError {
  constructor(cause: unknown) {
    super(503, 'ServiceUnavailable.Archive', 'The archive could not be read or written; retry shortly.', { cause, headers: { 'Retry-After': '1' } });
  }
}

const REGISTERED_MEMORY = 10_000;

export class SegmentTaskLookup {
  readonly #options: SegmentTaskLookupOptions;
  readonly #terminal = new Map<string, Omit<Answer, 'source'>>();
  readonly #inFlight = new Map<string, Promise<Answer>>();
  readonly #registered = new Set<string>();
  readonly #now: () => number;
  #archive: Promise<ArchiveAccess> | undefined;

  constructor(options: SegmentTaskLookupOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get hasArchive(): boolean {
    return this.#options.openArchive !== undefined;
  }

  /** The archive, opened once; throws ArchiveUnavailableError when there is none or it fails to load. */
  async archive(): Promise<ArchiveAccess> {
    const open = this.#options.openArchive;
    if (!open) throw new ArchiveUnavailableError(new Error('no archive is configured'));
    this.#archive ??= open().catch((error: unknown) => {
      this.#archive = undefined;
      throw new ArchiveUnavailableError(error);
    });
    return this.#archive;
  }

  async get(version: ApiVersion, address: TaskAddress): Promise<Answer> {
    const key = taskIdentity(address);
    const cached = this.#terminal.get(key);
    if (cached) return { ...cached, source: 'cache' };
    const flightKey = `${version}\n${key}`;
    const pending = this.#inFlight.get(flightKey);
    if (pending) return pending;
    const call = this.#answer(version, address, key).finally(() => this.#inFlight.delete(flightKey));
    this.#inFlight.set(flightKey, call);
    return call;
  }

  async #answer(version: ApiVersion, address: TaskAddress, key: string): Promise<Answer> {
    const archived = await this.#archivedSnapshot(address);
    if (archived && isTerminalStatus(archived.SegmentTask.Status)) {
      const answer = fromArchive(archived);
      this.#remember(key, answer);
      return answer;
    }
    let live;
    try {
      live = await this.#options.client.getSegmentTask(version, address, { timeoutMs: this.#options.deadlineMs });
    } catch (error) {
      if (archived) return fromArchive(archived); // Volcengine cannot answer now; the archive can
      throw upstreamFailureToAppError(error);
    }
    if (!live.task) return archived ? fromArchive(archived) : { task: undefined, upstreamRequestId: live.requestId, source: 'volcengine' };
    if (isTerminalStatus(live.task.Status)) {
      this.#remember(key, { task: live.task, upstreamRequestId: live.requestId });
      await this.#bestEffort('archive a terminal answer', async (access) => {
        await access.archive.record(address, { task: live.task!, capturedAt: this.#now(), source: 'lookup', final: true, upstreamRequestId: live.requestId });
      });
    } else if (live.task.StartTime !== undefined) {
      await this.#register(address, live.task.StartTime);
    }
    return { task: live.task, upstreamRequestId: live.requestId, source: 'volcengine' };
  }

  async #archivedSnapshot(address: TaskAddress): Promise<SnapshotFile | undefined> {
    let snapshot: SnapshotFile | undefined;
    await this.#bestEffort('read the archive', async (access) => {
      snapshot = await access.archive.latest(address);
    });
    return snapshot;
  }

  async #register(address: TaskAddress, startTime: number): Promise<void> {
    const memo = `${taskIdentity(address)}\n${startTime}`;
    if (this.#registered.has(memo)) return;
    await this.#bestEffort('register a task for watching', async (access) => {
      await access.registry.register(address, startTime, 'lookup', this.#now());
      if (this.#registered.size >= REGISTERED_MEMORY) this.#registered.clear();
      this.#registered.add(memo);
    });
  }

  /** Archive work on the live path never fails a lookup; a failure is logged and the live answer stands. */
  async #bestEffort(what: string, work: (access: ArchiveAccess) => Promise<void>): Promise<void> {
    if (!this.hasArchive) return;
    try {
      await work(await this.archive());
    } catch (error) {
      this.#options.logger?.warn(`could not ${what}`, { error });
    }
  }

  #remember(key: string, answer: Omit<Answer, 'source'>): void {
    if (this.#options.cacheEntries === 0) return;
    if (this.#terminal.size >= this.#options.cacheEntries) this.#terminal.delete(this.#terminal.keys().next().value!);
    this.#terminal.set(key, { task: answer.task, upstreamRequestId: answer.upstreamRequestId, ...(answer.snapshot ? { snapshot: answer.snapshot } : {}) });
  }
}

function fromArchive(snapshot: SnapshotFile): Answer {
  return { task: snapshot.SegmentTask, upstreamRequestId: snapshot.UpstreamRequestId, source: 'archive', snapshot };
}
