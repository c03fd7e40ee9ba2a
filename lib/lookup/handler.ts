/** The lookup function: its actions (actions.ts), in the HTTP pipeline every function shares (lib/http/pipeline.ts). */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { QuotaStats } from '../quota/fleet-limiter.ts';
import { addQuotaMetrics } from '../quota/metrics.ts';
import { ThrottledError } from '../errors.ts';
import { successResponse } from '../http/envelope.ts';
import { httpFunction } from '../http/pipeline.ts';
import { readLookupRequest } from './requests.ts';
import { createLookupActions } from './actions.ts';
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

  return httpFunction(
    async (event, envelope) => {
      try {
        const request = readLookupRequest(event, actions);
        envelope.action = request.action;
        envelope.version = request.version;
        const { result, headers } = await handlers[request.action]!(request);
        return successResponse(envelope, region, result, headers);
      } catch (error) {
        if (metrics && error instanceof ThrottledError) metrics.addMetric('UpstreamThrottles', MetricUnit.Count, 1);
        throw error;
      } finally {
        if (metrics && quota) addQuotaMetrics(metrics, quota.drainStats());
      }
    },
    { region, logger, ...(metrics ? { metrics } : {}) },
  );
}
