/**
 * The metrics catalogue: every metric the functions publish (namespace RtcSegmentTasks, dimensions
 * service and function; see createMetrics in log.ts), its unit, and which function publishes it.
 * The lookup, the callback and the quota publish through it (publishMetric); the template test
 * checks the alarms and the dashboard in serverless.yml against it, and the function tests check
 * what real invocations published. One catalogue per publisher, so that a bundle holds only its own.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { FunctionName } from './log.ts';

type Catalogue = Readonly<Record<string, 'Count' | 'Milliseconds'>>;

/** The lookup: its answers by source, and its lookups refused for throttling (429, ours or Volcengine's). */
export const LOOKUP_METRICS = {
  AnswersFromVolcengine: 'Count',
  AnswersFromCache: 'Count',
  AnswersFromArchive: 'Count',
  UpstreamThrottles: 'Count',
} as const satisfies Catalogue;

/** The shared quota's counters, published by each function that takes its slots (lookup, archive). */
export const QUOTA_METRICS = {
  QuotaTokensTaken: 'Count',
  QuotaTokensDenied: 'Count',
  QuotaWait: 'Milliseconds',
  QuotaFallbacks: 'Count',
  QuotaSlotsMissed: 'Count',
  QuotaTableCalls: 'Count',
} as const satisfies Catalogue;

/** The archiver: one set per run (lib/archive/handler.ts), DuplicateRuns alone for a duplicate delivery. */
export const ARCHIVE_METRICS = {
  DuplicateRuns: 'Count',
  TasksPolled: 'Count',
  SnapshotsWritten: 'Count',
  TasksRetired: 'Count',
  Throttled: 'Count',
  Errors: 'Count',
  Refused: 'Count',
  RunsSuperseded: 'Count',
  SchemaDrift: 'Count',
  FinalSnapshotsMissed: 'Count',
  ArchiveLag: 'Milliseconds',
  RefreshInterval: 'Milliseconds',
  EndingNotReached: 'Count',
  FirstCapturesNotReached: 'Count',
  RefreshesNotReached: 'Count',
  RetriesNotReached: 'Count',
  OldestDeadlineLeft: 'Milliseconds',
} as const satisfies Catalogue;

/** The callback: deliveries refused (signature, replay window), received and published, registrations skipped, unmatched events. */
export const CALLBACK_METRICS = {
  CallbacksRefused: 'Count',
  CallbacksReceived: 'Count',
  EventsPublished: 'Count',
  RegistrationsSkipped: 'Count',
  UnmatchedEvents: 'Count',
} as const satisfies Catalogue;

/** Every metric a function publishes, with its unit. */
export function metricsOf(name: FunctionName): Catalogue {
  if (name === 'lookup') return { ...LOOKUP_METRICS, ...QUOTA_METRICS };
  if (name === 'archive') return { ...ARCHIVE_METRICS, ...QUOTA_METRICS };
  return CALLBACK_METRICS;
}

/** Adds one of `catalogue`'s metrics, in its unit, to what the invocation publishes. */
export function publishMetric<C extends Catalogue>(metrics: Metrics, catalogue: C, name: keyof C & string, value: number): void {
  metrics.addMetric(name, catalogue[name]!, value);
}
