/**
 * The upstream port: what the lookup and the archiver need from Volcengine. VolcClient
 * implements it over HTTPS; the capacity simulation implements it with a model of Volcengine.
 */
import type { ApiVersion, SegmentTask, TaskAddress } from './volc/schemas.ts';

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

/** A room, as GetSegmentTask without TaskId addresses it. */
export interface RoomAddress {
  appId: string;
  roomId: string;
}

export interface WithoutTaskIdResult {
  /** Volcengine's Result as it answered it (absent, null or of any shape), credential-like fields removed. */
  result: unknown;
  requestId: string | undefined;
  attempts: number;
  /** What of a SegmentTask in the answer did not have the documented shape (the answer passes through regardless). */
  drift?: string;
}

/** GetSegmentTask without TaskId: optional in Volcengine's docs, what it answers unconfirmed. */
export interface WithoutTaskIdUpstream {
  getSegmentTaskWithoutTaskId(version: ApiVersion, room: RoomAddress, options: CallOptions): Promise<WithoutTaskIdResult>;
}

export interface SegmentTaskUpstream {
  /** GetSegmentTask; an unknown or expired task gives `task: undefined`, not an error. */
  getSegmentTask(version: ApiVersion, address: TaskAddress, options: CallOptions): Promise<GetSegmentTaskResult>;
}
