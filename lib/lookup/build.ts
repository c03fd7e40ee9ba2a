/** The lookup function's composition root: its parts, from its settings, with what a test or the simulation puts in their place. */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { ArchiveAccess } from '../archive/access.ts';
import type { LookupSettings } from '../config.ts';
import { createLogger, userAgentOf } from '../log.ts';
import type { SegmentTaskUpstream } from '../upstream.ts';
import { buildUpstream, type QuotaCounters, type UpstreamOverrides } from '../volc/build-upstream.ts';
import { createLookupHandler } from './actions.ts';
import { SegmentTaskLookup } from './segment-task-lookup.ts';

export interface LookupOverrides extends Pick<UpstreamOverrides, 'quotaNow' | 'client'> {
  /** The lookup's clock (its cache, its answers, the client's signing clock unless `client.now`). */
  now?: () => number;
  logger?: Logger;
  /** Published per invocation when given: answers by source, upstream throttles, quota use. */
  metrics?: Metrics;
  /** Volcengine, instead of the client on the settings' quota (a lookup without TaskId is then refused). */
  upstream?: SegmentTaskUpstream;
  /** The archive's stores, instead of S3 and DynamoDB on the settings' storage. */
  access?: ArchiveAccess;
}

export interface Lookup {
  handler: ReturnType<typeof createLookupHandler>;
  /** With the shared quota: its counters (the handler publishes them with `metrics`). */
  quota: QuotaCounters | undefined;
}

export function buildLookup(settings: LookupSettings, overrides: LookupOverrides = {}): Lookup {
  const now = overrides.now ?? Date.now;
  const logger = overrides.logger ?? createLogger('lookup');
  const { budgets } = settings;
  const built = overrides.upstream
    ? undefined
    : buildUpstream(settings, 'lookup', {
        logger,
        quotaNow: overrides.quotaNow,
        maxWaitMs: budgets.quotaWaitMs,
        client: { now, ...overrides.client },
      });
  const lookup = new SegmentTaskLookup({
    upstream: overrides.upstream ?? built!.client,
    withoutTaskId: built?.client,
    deadlineMs: budgets.deadlineMs,
    archiveReserveMs: budgets.archiveCallMs,
    cacheEntries: settings.cache.entries,
    terminalTtlMs: settings.cache.terminalTtlMs,
    openArchive: archiveOpener(settings, overrides.access),
    logger,
    now,
  });
  const quota = built?.quota;
  return { handler: createLookupHandler({ lookup, region: settings.volc.region, logger, now, metrics: overrides.metrics, quota }), quota };
}

/**
 * The archive, opened on first use: the S3 and DynamoDB clients are imported then, so the live
 * path's cold start does not load them. Undefined without storage (lookups are live only).
 */
function archiveOpener(settings: LookupSettings, access: ArchiveAccess | undefined): (() => Promise<ArchiveAccess>) | undefined {
  if (access) return async () => access;
  const { storage } = settings;
  if (!storage) return undefined;
  const bounds = { maxAttempts: 2, requestTimeoutMs: settings.budgets.archiveCallMs, userAgent: userAgentOf('lookup') };
  return () => import('../archive/access.ts').then(({ openArchive }) => openArchive(storage, bounds));
}
