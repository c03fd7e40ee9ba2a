/** The archiver function's pipeline: middy, Powertools logger and metrics, one run per invocation. */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { deadlineIn, type Deadline } from '../deadline.ts';
import { addQuotaMetrics } from '../quota/metrics.ts';
import type { QuotaStats } from '../quota/fleet-limiter.ts';
import type { ArchiveRunSummary, ArchiverOptions } from './archiver.ts';

/** What one invocation adds to the archiver's options: the tick it serves, who it is, its time, its reporting. */
export type ArchiverInvocation = Pick<ArchiverOptions, 'tick' | 'owner' | 'timeLeftMs'> & Partial<ArchiverOptions>;

export interface ArchiverDeps {
  /** One archiver run with the function's options (lib/archive/build.ts). */
  run: (invocation: ArchiverInvocation) => Promise<ArchiveRunSummary>;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
  /** The shared quota's counters (QUOTA_TABLE), published with the run's metrics. */
  quota?: { drainStats(): QuotaStats } | undefined;
}

/** Kept of the Lambda's time for the run's summary line and metrics, whatever an entry's work would take. */
const FINISH_RESERVE_MS = 3_000;

/**
 * The invocation's one deadline for its work: where the time kept for its end begins (FINISH_RESERVE_MS
 * before the Lambda's), or sooner when middy gives up on the invocation (its `cancelled` signal). A
 * run without a time limit (npm run archive:once) has none but the cancellation.
 */
function deadlineOf(timeLeftMs: number, cancelled: AbortSignal): Deadline {
  return Number.isFinite(timeLeftMs) ? deadlineIn(timeLeftMs - FINISH_RESERVE_MS, cancelled) : { signal: cancelled, at: Infinity };
}

/**
 * The schedule tick an invocation serves: EventBridge's scheduled time, the same in every delivery
 * of one tick (it delivers at least once); now for a manual run (npm run archive:once).
 */
export function tickOf(event: unknown, now: number): number {
  const time = (event as { time?: unknown } | null)?.time;
  const tick = typeof time === 'string' ? Date.parse(time) : Number.NaN;
  return Number.isFinite(tick) ? tick : now;
}

export function createArchiverHandler(deps: ArchiverDeps) {
  const { logger, metrics } = deps;
  const now = deps.now ?? Date.now;

  const handle = async (event: unknown, context: Context, { signal }: { signal: AbortSignal }): Promise<ArchiveRunSummary> => {
    const startedAt = now();
    const tick = tickOf(event, startedAt);
    const timeLeftMs = () =>
      typeof context.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : Number.POSITIVE_INFINITY;
    const summary = await deps.run({
      tick,
      owner: context.awsRequestId,
      timeLeftMs,
      deadline: deadlineOf(timeLeftMs(), signal),
      onError: (error, task) =>
        task
          ? logger.warn('task left for the next run', {
              appId: task.address.appId,
              roomId: task.address.roomId,
              taskId: task.address.taskId,
              error,
            })
          : logger.error('the watch registry could not be listed; the next run starts over', { error }),
      onSchemaDrift: (problem, task) =>
        logger.warn('schema drift: entry kept', {
          appId: task.address.appId,
          roomId: task.address.roomId,
          taskId: task.address.taskId,
          problem,
        }),
    });
    if (summary.duplicate) {
      // EventBridge delivers at least once: the duplicate ends here, having read one item.
      logger.info('archive run skipped: another delivery of this schedule tick runs it', { tick: new Date(tick).toISOString() });
      metrics.addMetric('DuplicateRuns', MetricUnit.Count, 1);
      return summary;
    }
    metrics.addMetric('TasksPolled', MetricUnit.Count, summary.tasksPolled);
    metrics.addMetric('SnapshotsWritten', MetricUnit.Count, summary.snapshotsWritten);
    metrics.addMetric('TasksRetired', MetricUnit.Count, summary.tasksRetired);
    metrics.addMetric('Throttled', MetricUnit.Count, summary.throttled);
    metrics.addMetric('Errors', MetricUnit.Count, summary.errors);
    metrics.addMetric('Refused', MetricUnit.Count, summary.refused);
    metrics.addMetric('RunsSuperseded', MetricUnit.Count, summary.runsSuperseded);
    metrics.addMetric('SchemaDrift', MetricUnit.Count, summary.schemaDrift);
    metrics.addMetric('FinalSnapshotsMissed', MetricUnit.Count, summary.finalSnapshotsMissed);
    metrics.addMetric('ArchiveLag', MetricUnit.Milliseconds, summary.archiveLagMs);
    metrics.addMetric('RefreshInterval', MetricUnit.Milliseconds, summary.refreshTargetMs);
    metrics.addMetric('EndingNotReached', MetricUnit.Count, summary.notReached.ending);
    metrics.addMetric('FirstCapturesNotReached', MetricUnit.Count, summary.notReached.first);
    metrics.addMetric('RefreshesNotReached', MetricUnit.Count, summary.notReached.refresh);
    metrics.addMetric('RetriesNotReached', MetricUnit.Count, summary.notReached.retry);
    if (deps.quota) addQuotaMetrics(metrics, deps.quota.drainStats());
    if (summary.oldestDeadlineLeft !== undefined)
      metrics.addMetric('OldestDeadlineLeft', MetricUnit.Milliseconds, summary.oldestDeadlineLeft - now());
    logger.info('archive run finished', {
      ...summary,
      oldestDeadlineLeft: summary.oldestDeadlineLeft === undefined ? null : new Date(summary.oldestDeadlineLeft).toISOString(),
      durationMs: now() - startedAt,
    });
    return summary;
  };

  return middy<unknown, ArchiveRunSummary, Error, Context>(handle)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics));
}
