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
 * A registry entry's body, for people reading the bucket; the archiver reads only its key.
 * @example { "FormatVersion": 2, "AppId": "demo-app", "RoomId": "demo-room", "TaskId": "demo-task",
 *   "State": "known", "StartTime": 1795593600000, "RegisteredAt": "2026-11-25T08:00:05.000Z",
 *   "Deadline": "2026-11-28T08:00:00.000Z", "NextPollAt": null, "Via": "lookup" }
 */
export const RegistryEntrySchema = z.object({
  FormatVersion: z.literal(SNAPSHOT_FORMAT_VERSION),
  ...Ids,
  State: z.enum(['known', 'announced', 'unknown']),
  StartTime: z.number().int().nullable(),
  RegisteredAt: z.iso.datetime(),
  Deadline: z.iso.datetime(),
  /** Null: polled on every archiver run. */
  NextPollAt: z.iso.datetime().nullable(),
  Via: z.enum(['lookup', 'watch', 'callback', 'archiver']),
});
export type RegistryEntry = z.infer<typeof RegistryEntrySchema>;
export type RegistrationVia = RegistryEntry['Via'];

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
 * A registration Volcengine never showed a run for, 72 hours after it was made (or after its announced StartTime).
 * @example { "FormatVersion": 2, "Outcome": "not-found", "At": "2026-11-28T08:00:00.000Z",
 *   "RegisteredAt": "2026-11-25T08:00:00.000Z", "AnnouncedStartTime": null }
 */
export const NotFoundFileSchema = z.object({
  FormatVersion: z.literal(SNAPSHOT_FORMAT_VERSION),
  Outcome: z.literal('not-found'),
  At: z.iso.datetime(),
  RegisteredAt: z.iso.datetime().nullable(),
  AnnouncedStartTime: z.number().int().nullable(),
});
export type NotFoundFile = z.infer<typeof NotFoundFileSchema>;
