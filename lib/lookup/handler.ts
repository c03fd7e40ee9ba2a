/**
 * The lookup function: the declared actions (actions.ts) this deployment serves, read and
 * dispatched in the HTTP pipeline every function shares (lib/http/http-function.ts), which renders
 * their answers and errors.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { deadlineIn, type Deadline } from '../deadline.ts';
import { httpFunction } from '../http/http-function.ts';
import { LOOKUP_METRICS, publishMetric } from '../metrics.ts';
import type { QuotaStats } from '../quota/fleet-limiter.ts';
import { addQuotaMetrics } from '../quota/metrics.ts';
import { isThrottle } from '../volc/errors.ts';
import { LOOKUP_ACTIONS } from './actions.ts';
import { readLookupRequest, readQuery } from './requests.ts';
import type { SegmentTaskLookup } from './segment-task-lookup.ts';

export interface LookupHandlerDeps {
  lookup: SegmentTaskLookup;
  region: string;
  logger: Logger;
  now?: () => number;
  /** Published per invocation when given: answers by source, upstream throttles, quota use. */
  metrics?: Metrics | undefined;
  quota?: { drainStats(): QuotaStats } | undefined;
}

/** What a lookup keeps of its invocation's time beyond its deadline: the response, the logs, the metrics. */
const TIMEOUT_MARGIN_MS = 2_000;

/**
 * The invocation's one deadline: the lookup's, cut to the Lambda's time left less the margin
 * (Lambda's timeout is not configured twice), and cancelled with middy's signal. middy's own early
 * timeout stays its default backstop, just before Lambda's: moved up to the margin, its answer would
 * pre-empt the lookup's own at the same instant (a 504 naming Volcengine, or the archive's answer).
 */
function deadlineOf(deadlineMs: number, context: Context, cancelled: AbortSignal): Deadline {
  return deadlineIn(Math.min(deadlineMs, (context.getRemainingTimeInMillis?.() ?? Infinity) - TIMEOUT_MARGIN_MS), cancelled);
}

export function createLookupHandler(deps: LookupHandlerDeps) {
  const { lookup, region, logger, metrics, quota } = deps;
  const actionDeps = { lookup, logger, metrics, now: deps.now ?? Date.now };
  // The archive's actions only with an archive; in the declarations' order, which errors list.
  const served = new Map(
    LOOKUP_ACTIONS.filter((action) => lookup.hasArchive || !action.needsArchive).map((action) => [action.name, action]),
  );
  const names = [...served.keys()];

  const handler = httpFunction(
    {
      read: (event) => readLookupRequest(event, names),
      answer: (request, context, signal) => {
        const action = served.get(request.action)!;
        const invocation = { ...actionDeps, deadline: deadlineOf(lookup.deadlineMs, context, signal) };
        return action.run(invocation, readQuery(action.query, request.parameters), request);
      },
    },
    { region, logger, metrics },
  );
  if (!metrics) return handler;
  const drain = () => {
    if (quota) addQuotaMetrics(metrics, quota.drainStats());
  };
  return handler.use({
    after: drain,
    onError: (request) => {
      if (isThrottle(request.error)) publishMetric(metrics, LOOKUP_METRICS, 'UpstreamThrottles', 1);
      drain();
    },
  });
}
