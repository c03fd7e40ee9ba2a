/**
 * Answers "what is task X doing" from Volcengine, sparing the 60 QPS quota: terminal answers
 * (Status 3/4 never change) are kept in a bounded in-memory cache, and concurrent lookups of the
 * same task share one upstream call.
 */
import type { VolcClient, TaskAddress } from '../volc/client.ts';
import { isTerminalStatus, type ApiVersion, type SegmentTask } from '../volc/schemas.ts';
import { upstreamFailureToAppError } from './errors.ts';

export interface LiveAnswer {
  /** Undefined: Volcengine does not know the task (never existed, or started over 72 h ago). */
  task: SegmentTask | undefined;
  upstreamRequestId: string | undefined;
  /** "cache" when answered from this instance's memory of a terminal task. */
  source: 'volcengine' | 'cache';
}

export interface SegmentTaskLookupOptions {
  client: VolcClient;
  deadlineMs: number;
  cacheEntries: number;
}

export class SegmentTaskLookup {
  readonly #options: SegmentTaskLookupOptions;
  readonly #terminal = new Map<string, { task: SegmentTask; upstreamRequestId: string | undefined }>();
  readonly #inFlight = new Map<string, Promise<LiveAnswer>>();

  constructor(options: SegmentTaskLookupOptions) {
    this.#options = options;
  }

  async live(version: ApiVersion, address: TaskAddress, signal?: AbortSignal): Promise<LiveAnswer> {
    const key = `${address.appId}\n${address.roomId}\n${address.taskId}`;
    const cached = this.#terminal.get(key);
    if (cached) return { ...cached, source: 'cache' };
    const pending = this.#inFlight.get(`${version}\n${key}`);
    if (pending) return pending;
    const call = this.#fetch(version, address, key, signal).finally(() => this.#inFlight.delete(`${version}\n${key}`));
    this.#inFlight.set(`${version}\n${key}`, call);
    return call;
  }

  async #fetch(version: ApiVersion, address: TaskAddress, key: string, signal: AbortSignal | undefined): Promise<LiveAnswer> {
    try {
      const result = await this.#options.client.getSegmentTask(version, address, { timeoutMs: this.#options.deadlineMs, signal });
      if (result.task && isTerminalStatus(result.task.Status)) this.#remember(key, result.task, result.requestId);
      return { task: result.task, upstreamRequestId: result.requestId, source: 'volcengine' };
    } catch (error) {
      throw upstreamFailureToAppError(error);
    }
  }

  #remember(key: string, task: SegmentTask, upstreamRequestId: string | undefined): void {
    if (this.#options.cacheEntries === 0) return;
    if (this.#terminal.size >= this.#options.cacheEntries) this.#terminal.delete(this.#terminal.keys().next().value!);
    this.#terminal.set(key, { task, upstreamRequestId });
  }
}
