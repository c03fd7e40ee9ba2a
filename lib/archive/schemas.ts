/** Files the archive writes. Each carries a format version; none holds a secret. */
import { z } from 'zod';
import { SegmentTaskSchema } from '../volc/schemas.ts';

export const SNAPSHOT_FORMAT_VERSION = 1;

/**
 * One captured state of a task (latest.json and states/{hash}.json).
 * @example { "FormatVersion": 1, "AppId": "demo-app", "RoomId": "demo-room", "TaskId": "demo-task",
 *   "CapturedAt": "2026-11-25T08:00:00.000Z", "StateHash": "9f2c…", "Source": "archiver", "Final": false,
 *   "SegmentTask": { "StartTime": 1795593600000, "EndTime": 0, "Status": 2 } }
 */
export const SnapshotFileSchema = z.object({
  FormatVersion: z.literal(SNAPSHOT_FORMAT_VERSION),
  AppId: z.string(),
  RoomId: z.string(),
  TaskId: z.string(),
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
 * A registry entry's body (its key carries the deadline and ids).
 * @example { "FormatVersion": 1, "AppId": "demo-app", "RoomId": "demo-room", "TaskId": "demo-task",
 *   "StartTime": 1795593600000, "RegisteredAt": "2026-11-25T08:00:05.000Z", "Via": "lookup" }
 */
export const RegistryEntrySchema = z.object({
  FormatVersion: z.literal(SNAPSHOT_FORMAT_VERSION),
  AppId: z.string(),
  RoomId: z.string(),
  TaskId: z.string(),
  /** Unknown (null) until the archiver first sees the task; the key's deadline is then provisional. */
  StartTime: z.number().int().nullable(),
  RegisteredAt: z.iso.datetime(),
  Via: z.enum(['lookup', 'watch', 'callback', 'archiver']),
});
export type RegistryEntry = z.infer<typeof RegistryEntrySchema>;

/**
 * Why a task left the registry other than by a final snapshot.
 * @example { "FormatVersion": 1, "Outcome": "not-found", "At": "2026-11-28T08:00:00.000Z", "HadSnapshot": false }
 */
export const RetiredFileSchema = z.object({
  FormatVersion: z.literal(SNAPSHOT_FORMAT_VERSION),
  Outcome: z.enum(['not-found', 'expired-without-final', 'superseded']),
  At: z.iso.datetime(),
  HadSnapshot: z.boolean(),
  StartTime: z.number().int().nullable(),
});
export type RetiredFile = z.infer<typeof RetiredFileSchema>;
