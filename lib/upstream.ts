/**
 * The upstream port: what the lookup and the archiver need from Volcengine. VolcClient
 * implements it over HTTPS; the capacity simulation implements it with a model of Volcengine.
 */
import type { TaskAddress } from './task.ts';
import type { ApiVersion, SegmentTask } from './volc/schemas.ts';

export interface CallOptions {
  /** Time budget for the whole call, retries included. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Orders callers waiting for the shared quota, lower first (the archiver passes the task's deadline). */
  priority?: number | undefined;
}

export interface GetSegmentTaskResult {
  /** Undefined when Volcengine answered without a task (unknown, or older than 72 h). */
  task: SegmentTask | undefined;
  requestId: string | undefined;
  attempts: number;
}

export interface SegmentTaskUpstream {
  /** GetSegmentTask; an unknown or expired task gives `task: undefined`, not an error. */
  getSegmentTask(version: ApiVersion, address: TaskAddress, options: CallOptions): Promise<GetSegmentTaskResult>;
}
