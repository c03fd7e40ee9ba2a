/** The lookup function: its actions (actions.ts), in the HTTP pipeline every function shares (lib/http/pipeline.ts). */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { httpFunction } from '../http/pipeline.ts';
import type { QuotaStats } from '../quota/fleet-limiter.ts';
import { addQuotaMetrics } from '../quota/metrics.ts';
import { isThrottle } from '../volc/errors.ts';
import { createLookupActions } from './actions.ts';
import { readLookupRequest } from './requests.ts';
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

export function createLookupHandler(deps: LookupHandlerDeps) {
  const { lookup, region, logger, metrics, quota } = deps;
  const handlers = createLookupActions({ lookup, logger, metrics, now: deps.now ?? Date.now });
  const actions = Object.keys(handlers);

  const handler = httpFunction(
    { read: (event) => readLookupRequest(event, actions), answer: (request) => handlers[request.action]!(request) },
    { region, logger, metrics },
  );
  if (!metrics) return handler;
  const drain = () => {
    if (quota) addQuotaMetrics(metrics, quota.drainStats());
  };
  return handler.use({
    after: drain,
    onError: (request) => {
      if (isThrottle(request.error)) metrics.addMetric('UpstreamThrottles', MetricUnit.Count, 1);
      drain();
    },
  });
}
