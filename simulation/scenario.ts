/**
 * What `npm run simulate` reads and writes. Times in a scenario are minutes from the virtual
 * epoch 2026-12-01T00:00:00Z; times in the result are epoch ms (StartTime, CapturedAt) or
 * minutes (lookup At), as in the API.
 */
import { z } from 'zod';
import { VOLC_ID_PATTERN } from '../lib/volc/schemas.ts';
import type { SimulationCost } from './cost.ts';
import type { RequestCounts } from './requests.ts';

export const VIRTUAL_EPOCH = Date.UTC(2026, 11, 1);
export const MINUTE_MS = 60_000;
export const atMinute = (minutes: number) => VIRTUAL_EPOCH + Math.round(minutes * MINUTE_MS);

const Id = z.string().regex(VOLC_ID_PATTERN, 'must be 1 to 128 letters, digits, "_", "@", "-" or "."');
const Minutes = z.number().min(0);
const Address = { AppId: Id, RoomId: Id, TaskId: Id };

/**
 * One run of a task as Volcengine would show it. Several runs may share an address (a reused
 * TaskId) as long as they do not overlap.
 * @example { "AppId": "a", "RoomId": "r", "TaskId": "u1", "StartAt": 60, "EndAt": 180, "EndStatus": 3,
 *   "StopReason": "UserDisconnect", "Changes": [{ "At": 90, "Duration": 30 }] }
 */
export const ScenarioTaskSchema = z.object({
  ...Address,
  StartAt: Minutes,
  /** Null: still running when the scenario ends. */
  EndAt: Minutes.nullable(),
  EndStatus: z.union([z.literal(3), z.literal(4)]).default(3),
  StopReason: z.string().default('IdleTimeOut'),
  /** UpdateSegment-style changes while running. */
  Changes: z.array(z.object({ At: Minutes, Duration: z.number().int().min(1).max(600) })).default([]),
});
export type ScenarioTask = z.infer<typeof ScenarioTaskSchema>;

/**
 * A callback (a signed SegmentRealTimeData delivery), a lookup (GetSegmentTask 2023-11-01) or a
 * watch (WatchSegmentTask, StartTime in minutes when given).
 */
export const ScenarioEventSchema = z.object({
  At: Minutes,
  Kind: z.enum(['callback', 'lookup', 'watch']),
  ...Address,
  StartTime: Minutes.optional(),
});
export type ScenarioEvent = z.infer<typeof ScenarioEventSchema>;

/**
 * Faults injected into the functions, deterministically from `seed` (all optional, default none):
 * a schedule tick delivered twice (the second 0–2 s later, alongside the first); an archiver or
 * callback invocation dying right after sending a store call (applied or not, with equal chance);
 * a store call failing with a retryable error, not applied; each function instance's clock off by
 * a fixed amount drawn from ±clockSkewMs. A callback answered 5xx or lost to a crash is delivered
 * again a minute later, up to three deliveries (as Volcengine does).
 * @example { "seed": 7, "duplicateSchedule": 0.1, "crashPerStoreCall": 0.005, "storeErrorRate": 0.01, "clockSkewMs": 2000 }
 */
export const FaultsSchema = z.object({
  seed: z.number().int().default(1),
  duplicateSchedule: z.number().min(0).max(1).default(0),
  crashPerStoreCall: z.number().min(0).max(0.5).default(0),
  storeErrorRate: z.number().min(0).max(0.5).default(0),
  clockSkewMs: z.number().int().min(0).max(600_000).default(0),
});

export const ScenarioSchema = z
  .object({
    hours: z
      .number()
      .positive()
      .max(24 * 60),
    scheduleMinutes: z.number().int().min(1).max(60).default(5),
    /** The archiver's Lambda timeout (serverless.yml's archiveTimeoutSeconds). */
    archiveTimeoutSeconds: z.number().int().min(10).max(900).default(280),
    /** Volcengine's GetSegmentTask quota per account, enforced strictly per virtual second. */
    accountQps: z.number().int().min(1).default(60),
    /** Overrides of the archiver's and the lookup's configuration (ARCHIVE_QPS, LOOKUP_TERMINAL_TTL_MS, …). */
    env: z.record(z.string(), z.string()).default({}),
    tasks: z.array(ScenarioTaskSchema).default([]),
    events: z.array(ScenarioEventSchema).default([]),
    faults: FaultsSchema.default(FaultsSchema.parse({})),
  })
  .superRefine((scenario, context) => {
    const byAddress = new Map<string, ScenarioTask[]>();
    for (const task of scenario.tasks) {
      const key = `${task.AppId}/${task.RoomId}/${task.TaskId}`;
      byAddress.set(key, [...(byAddress.get(key) ?? []), task]);
      if (task.EndAt !== null && task.EndAt < task.StartAt)
        context.addIssue({ code: 'custom', message: `a run of ${key} ends before it starts` });
    }
    for (const [key, runs] of byAddress) {
      const sorted = [...runs].sort((a, b) => a.StartAt - b.StartAt);
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i - 1]!.EndAt === null || sorted[i - 1]!.EndAt! > sorted[i]!.StartAt)
          context.addIssue({ code: 'custom', message: `runs of ${key} overlap` });
      }
    }
  });
export type Scenario = z.infer<typeof ScenarioSchema>;

export interface SimulatedRun {
  AppId: string;
  RoomId: string;
  TaskId: string;
  StartTime: number;
  States: Array<{ Status: number | null; CapturedAt: number }>;
  Terminal: boolean;
  Final: boolean;
}

export interface SimulatedLookup {
  At: number;
  AppId: string;
  RoomId: string;
  TaskId: string;
  HttpStatus: number;
  Source: string | null;
  StartTime?: number;
  Status?: number;
  /** The run Volcengine showed (or, when none, the newest run started) at that moment. */
  ExpectedStartTime: number | null;
  WrongRun: boolean;
}

export interface SimulationResult {
  runs: SimulatedRun[];
  lookups: SimulatedLookup[];
  polls: Array<{ AppId: string; RoomId: string; TaskId: string; Count: number }>;
  registry: number;
  finalSnapshotsMissed: number;
  upstreamCalls: number;
  /** Seconds from each state change of a run to its capture. */
  lag: { p50: number; p95: number; max: number };
  /** Seconds from a run's discovery (or its start, if announced ahead) to its first capture. */
  firstCapture: { p50: number; p95: number; max: number };
  /** Seconds from a run's end to the capture of its terminal state. */
  endCapture: { p50: number; p95: number; max: number };
  /** What was actually injected. */
  faults: { duplicatedSchedules: number; crashes: number; storeErrors: number; maxSkewMs: number };
  /** The AWS requests (and Volcengine calls) each function made, counted as the functions made them. */
  requests: RequestCounts;
  /** Their cost in USD at simulation/prices.ts, with the quota table and Lambda time beyond virtual time derived. */
  cost: SimulationCost;
  summary: SimulationSummary;
}

/** The figures an operator reads first. */
export interface SimulationSummary {
  archiverRuns: number;
  /** Entries an archiver run left for the next one because of a fault (none expected in a simulation). */
  archiverErrors: number;
  runsInScenario: number;
  runsDiscovered: number;
  /** Discovered runs whose archive does not end terminal or final (or is missing). */
  runsDiscoveredNotSettled: number;
  /** Discovered runs that ended an archiver run before their window closed, but are not archived terminal. */
  runsEndMissed: number;
  /** Discovered runs of which the archive holds nothing, once they should be settled. */
  runsLost: number;
  /** Timeline entries that repeat the entry before them (same state, same Final), or follow a terminal one with a running state. */
  duplicateTimelineEntries: number;
  /** Registry entries left that should be gone: past their deadline, or of a run archived terminal, two schedules ago or more. */
  orphanedRegistrations: number;
  wrongRunLookups: number;
  /** Entries the callback instances published to the event bus (at least one per verified delivery answered 2xx). */
  eventsPublished: number;
  upstreamThrottled: number;
  /** Archiver runs that stopped with entries still due (the share or the time ran out), and the most due entries one left per lane. */
  archiverRunsStoppedEarly: number;
  mostDueNotReached: { ending: number; first: number; refresh: number; retry: number };
  /** The archiver runs' median refresh interval (median over runs) and the longest one seen, in minutes. */
  refreshIntervalMinutes: { p50: number; max: number };
  /** The archiver's GetSegmentTask calls per discovered run. */
  archiverCallsPerRun: number;
  /** The same while runs arrive at their full rate (see results.ts: steadyCallsPerRun); undefined without arrivals over time. */
  archiverCallsPerRunSteady: number | undefined;
  /** p95 of firstCapture and endCapture, in minutes. */
  firstCaptureP95Minutes: number;
  endCaptureP95Minutes: number;
  ghosts: number;
  /** Most polls of one address that never had a run, and the shortest time between two of them. */
  ghostMaxPolls: number;
  ghostMinPollIntervalMinutes: number | null;
  ghostsLeftInRegistry: number;
  /** The AWS cost of everything the functions did, in USD (result.cost has it by function and service). */
  awsCostUsd: number;
  wallSeconds: number;
}
