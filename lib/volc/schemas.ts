/**
 * The domain's nouns as GetSegmentTask names them (a task's address, a run, its StartTime), and
 * schemas of what Volcengine sends us. Every SegmentTask field is optional (the SDK models are all
 * pointers), unknown fields are kept, and third-party storage keys are removed at parse time so
 * they can never reach a response, a log line or the archive.
 */
import { z } from 'zod';

/** Ids accepted by Volcengine for TaskId, RoomId, UserId, BusinessId and Identifier. */
export const VOLC_ID_PATTERN = /^[a-zA-Z0-9_@.-]{1,128}$/;

/**
 * A task is addressed by AppId + RoomId + TaskId (for auto segmentation the UserId), and the same
 * address is reused for every new run: a run is the address plus its StartTime (epoch ms), and
 * each run has its own history.
 */
export interface TaskAddress {
  appId: string;
  roomId: string;
  taskId: string;
}

export interface RunAddress extends TaskAddress {
  startTime: number;
}

/** GetSegmentTask reads a task only within 72 hours of its StartTime. */
export const WINDOW_MS = 72 * 3_600_000;

/** One string per task address (ids cannot contain a newline), for maps and sets. */
export const taskIdentity = (address: TaskAddress): string => `${address.appId}\n${address.roomId}\n${address.taskId}`;

export const runOf = (address: TaskAddress, startTime: number): RunAddress => ({
  appId: address.appId,
  roomId: address.roomId,
  taskId: address.taskId,
  startTime,
});

/** The earliest StartTime we accept: 2020-01-01T00:00:00Z, before any GetSegmentTask existed. */
export const EARLIEST_START_TIME = Date.UTC(2020, 0, 1);
/** A StartTime may lie at most this far ahead of now (a task announced before it starts). */
export const START_TIME_LEAD_MS = 86_400_000;

/**
 * Why `value` is not a StartTime in epoch milliseconds between 2020-01-01 and now + 1 day, or
 * undefined when it is one. Seconds (10 digits) and 14-digit values both fall outside.
 */
export function startTimeProblem(value: number, now: number): string | undefined {
  if (!Number.isSafeInteger(value)) return 'it must be a whole number of milliseconds since 1970-01-01';
  if (value < EARLIEST_START_TIME) return 'it lies before 2020-01-01; StartTime is in milliseconds since 1970-01-01, not seconds';
  if (value > now + START_TIME_LEAD_MS) return 'it lies more than a day in the future';
  return undefined;
}

export const SUPPORTED_VERSIONS = ['2022-06-01', '2023-11-01'] as const;
export type ApiVersion = (typeof SUPPORTED_VERSIONS)[number];

const SECRET_FIELD = /^(access_?key(_?id)?|secret(_?access)?_?key|secret|session_?token|security_?token|password)$/i;

/** Removes credential-like fields at any depth; the result holds no secret even if Volcengine echoes one. */
export function stripSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripSecrets);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (!SECRET_FIELD.test(key)) out[key] = stripSecrets(inner);
    }
    return out;
  }
  return value;
}

/**
 * StorageConfig as echoed by GetSegmentTask, secrets removed.
 * @example { "Type": 2, "CustomConfig": { "Vendor": 0, "Region": 0, "Bucket": "my-s3-bucket" } }
 */
export const StorageConfigSchema = z
  .looseObject({
    Type: z.number().int().optional(),
  })
  .transform((config) => stripSecrets(config) as { Type?: number; [key: string]: unknown });

/**
 * One segmentation task as GetSegmentTask reports it (times in epoch milliseconds).
 * @example { "StartTime": 1717228800000, "EndTime": 0, "Status": 2, "StopReason": "", "MaxIdleTime": 180,
 *            "Duration": 20, "Identifier": "room1-audit", "Handle": true,
 *            "TargetStreams": { "StreamList": [{ "Index": 0, "UserId": "alice", "StreamType": 0 }] } }
 */
export const SegmentTaskSchema = z.looseObject({
  StartTime: z.number().int().nonnegative().optional(),
  EndTime: z.number().int().nonnegative().optional(),
  Status: z.number().int().optional(),
  StopReason: z.string().optional(),
  MaxIdleTime: z.number().int().optional(),
  Duration: z.number().int().optional(),
  Identifier: z.string().optional(),
  Handle: z.boolean().optional(),
  TargetStreams: z
    .looseObject({
      StreamList: z
        .array(
          z.looseObject({ Index: z.number().int().optional(), UserId: z.string().optional(), StreamType: z.number().int().optional() }),
        )
        .nullish(),
    })
    .nullish(),
  StorageConfig: StorageConfigSchema.nullish(),
  Control: z.looseObject({}).nullish(),
});
export type SegmentTask = z.infer<typeof SegmentTaskSchema>;

/**
 * GetSegmentTask's Result without a TaskId, whose form is unconfirmed: credential-like fields are
 * removed at any depth, a `SegmentTask` in it that has the documented shape is read as one, and
 * anything else passes through as Volcengine sent it; `drift` names what did not parse.
 */
export function readResultWithoutTaskId(result: unknown): { result: unknown; drift?: string } {
  const clean = stripSecrets(result);
  if (clean === null || typeof clean !== 'object' || Array.isArray(clean)) return { result: clean };
  const { SegmentTask: task } = clean as { SegmentTask?: unknown };
  if (task === undefined || task === null) return { result: clean };
  const parsed = SegmentTaskSchema.safeParse(task);
  if (parsed.success) return { result: { ...clean, SegmentTask: parsed.data } };
  return { result: clean, drift: parsed.error.issues.map((issue) => ['SegmentTask', ...issue.path].join('.')).join(', ') };
}

/** Status 3 (finished) and 4 (failed) never change again. */
export const isTerminalStatus = (status: number | undefined): boolean => status === 3 || status === 4;

/**
 * Volcengine's error object.
 * @example { "CodeN": 100010, "Code": "SignatureDoesNotMatch", "Message": "The request signature ..." }
 */
export const VolcErrorSchema = z.looseObject({
  Code: z.string().optional(),
  CodeN: z.number().optional(),
  Message: z.string().optional(),
});

/**
 * ResponseMetadata of every Volcengine answer.
 * @example { "RequestId": "20240601160000A1B2C3D4E5F6", "Action": "GetSegmentTask", "Version": "2023-11-01",
 *            "Service": "rtc", "Region": "cn-north-1" }
 */
export const ResponseMetadataSchema = z.looseObject({
  RequestId: z.string().optional(),
  Action: z.string().optional(),
  Version: z.string().optional(),
  Service: z.string().optional(),
  Region: z.string().optional(),
  Error: VolcErrorSchema.nullish(),
});

/**
 * GetSegmentTask's whole answer. `Result.SegmentTask` may be absent (how Volcengine reports an
 * unknown task is unconfirmed: either an error or an empty result).
 * @example { "ResponseMetadata": { "RequestId": "2024...", "Action": "GetSegmentTask" },
 *            "Result": { "SegmentTask": { "Status": 3, "StopReason": "IdleTimeOut" } } }
 */
export const GetSegmentTaskResponseSchema = z.looseObject({
  ResponseMetadata: ResponseMetadataSchema,
  Result: z.looseObject({ SegmentTask: SegmentTaskSchema.nullish() }).nullish(),
});

/**
 * Any Volcengine answer, read only for its metadata (Start/Update/StopSegment return a string Result).
 * @example { "ResponseMetadata": { "RequestId": "2024...", "Action": "StopSegment" }, "Result": "ok" }
 */
export const GenericResponseSchema = z.looseObject({
  ResponseMetadata: ResponseMetadataSchema,
  Result: z.unknown().optional(),
});
