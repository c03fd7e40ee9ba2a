/** Files the archive writes. Each carries a format version; none holds a secret. */
import { z } from 'zod';
import { SegmentTaskSchema } from '../volc/schemas.ts';

export const SNAPSHOT_FORMAT_VERSION = 2;

const Ids = { AppId: z.string(), RoomId: z.string(), TaskId: z.string() };

/**
 * One captured state of a run (latest.json and timeline/{Seq}.json). Seq numbers the run's
 * timeline entries from 1, in capture order.
 * @example { "FormatVersion": 2, "AppId": "demo-app", "RoomId": "demo-room", "TaskId": "demo-task",
 *   "StartTime": 1795593600000, "Seq": 1, "CapturedAt": "2026-11-25T08:00:00.000Z", "StateHash": "9f2c…",
 *   "Source": "archiver", "Final": false, "SegmentTask": { "StartTime": 1795593600000, "EndTime": 0, "Status": 2 } }
 */
export const SnapshotFileSchema = z.object({
  FormatVersion: z.literal(SNAPSHOT_FORMAT_VERSION),
  ...Ids,
  StartTime: z.number().int(),
  Seq: z.number().int().positive(),
  CapturedAt: z.iso.datetime(),
  StateHash: z.string().regex(/^[0-9a-f]{64}$/),
  Source: z.enum(['archiver', 'lookup']),
  /** True once no later state will be captured: terminal, or taken just before the 72-hour window closes. */
  Final: z.boolean(),
  UpstreamRequestId: z.string().optional(),
  SegmentTask: SegmentTaskSchema,
});
export type SnapshotFile = z.infer<typeof SnapshotFileSchema>;

/**
 * Why a run's watching ended without its final snapshot.
 * @example { "FormatVersion": 2, "Outcome": "superseded", "At": "2026-11-28T08:00:00.000Z", "HadSnapshot": true,
 *   "StartTime": 1795593600000 }
 */
export const RetiredFileSchema = z.object({
  FormatVersion: z.literal(SNAPSHOT_FORMAT_VERSION),
  /** superseded: a newer run of the same TaskId started first; expired-without-final: the window closed first. */
  Outcome: z.enum(['expired-without-final', 'superseded']),
  At: z.iso.datetime(),
  HadSnapshot: z.boolean(),
  StartTime: z.number().int(),
});
export type RetiredFile = z.infer<typeof RetiredFileSchema>;

/**
 * A registration Volcengine never showed a run for, 72 hours after it was made (or after its
 * announced StartTime): not-found, or refused when Volcengine kept refusing to answer about it
 * (a client error that is not throttling, e.g. an AppId of another account), with its code.
 * @example { "FormatVersion": 2, "Outcome": "refused", "At": "2026-11-28T08:00:00.000Z",
 *   "RegisteredAt": "2026-11-25T08:00:00.000Z", "AnnouncedStartTime": null, "UpstreamCode": "InvalidParameter.AccountIdMismatch" }
 */
export const NotFoundFileSchema = z.object({
  FormatVersion: z.literal(SNAPSHOT_FORMAT_VERSION),
  Outcome: z.enum(['not-found', 'refused']),
  At: z.iso.datetime(),
  RegisteredAt: z.iso.datetime().nullable(),
  AnnouncedStartTime: z.number().int().nullable(),
  UpstreamCode: z.string().optional(),
});
export type NotFoundFile = z.infer<typeof NotFoundFileSchema>;
