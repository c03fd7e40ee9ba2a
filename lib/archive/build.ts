/** The archiver function's composition root: its parts from its settings, or what a test, the bench or the simulation gives instead. */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { ArchiverSettings } from '../config.ts';
import { createLogger, createMetrics, userAgentOf } from '../log.ts';
import type { SegmentTaskUpstream } from '../upstream.ts';
import { buildUpstream, type UpstreamOverrides } from '../volc/build-upstream.ts';
import { cutBy, openArchive, registryOptions, type ArchiveAccess } from './access.ts';
import { runArchiver, type ArchiveRunSummary } from './archiver.ts';
import { DynamoDbRegistry } from './dynamodb-registry.ts';
import { createArchiverHandler, type ArchiverInvocation } from './handler.ts';
import type { WatchRegistry } from './registry.ts';

export interface ArchiverOverrides extends Pick<UpstreamOverrides, 'limiter' | 'quotaNow'> {
  /** The archiver's clock (and the client's signing clock). */
  now?: () => number;
  logger?: Logger;
  metrics?: Metrics;
  /** Volcengine, instead of the client on the settings' quota. */
  upstream?: SegmentTaskUpstream;
  /** The archive's stores, instead of S3 and DynamoDB on the settings' storage. */
  access?: ArchiveAccess<WatchRegistry>;
}

export interface Archiver {
  /** The Lambda handler: one run per schedule tick, its summary logged and published. */
  handler: ReturnType<typeof createArchiverHandler>;
  /** One run of the same archiver without the Lambda around it (tests, the bench). */
  run: (invocation: ArchiverInvocation) => Promise<ArchiveRunSummary>;
}

export function buildArchiver(settings: ArchiverSettings, overrides: ArchiverOverrides = {}): Archiver {
  const now = overrides.now ?? Date.now;
  const logger = overrides.logger ?? createLogger('archive');
  const built = overrides.upstream
    ? undefined
    : buildUpstream(settings, 'archiver', {
        logger,
        limiter: overrides.limiter,
        quotaNow: overrides.quotaNow,
        client: overrides.now ? { now } : undefined,
      });
  const upstream = overrides.upstream ?? built!.client;
  const access = overrides.access ?? openStores(settings);
  const options = settings.archiver;
  const run = (invocation: ArchiverInvocation) =>
    runArchiver({
      ...access,
      upstream,
      version: options.apiVersion,
      now,
      finalMarginMs: options.finalMarginMs,
      callTimeoutMs: options.callTimeoutMs,
      concurrency: options.concurrency,
      safetyMs: options.safetyMs,
      unknownRetryMs: options.unknownRetryMs,
      refreshMs: options.refreshMs,
      noReuseRefreshMs: options.noReuseRefreshMs,
      idleMarginMs: options.idleMarginMs,
      refreshCallsPerSecond: settings.quota.bucket.qps * options.refreshShare,
      ...invocation,
    });
  const metrics = overrides.metrics ?? createMetrics('archive');
  return { handler: createArchiverHandler({ run, logger, metrics, now, quota: built?.quota }), run };
}

/**
 * The S3 history and the whole watch registry on DynamoDB, named as the archive function in their user
 * agent; `within` a run's deadline, the same with their requests cut by it.
 */
function openStores(settings: ArchiverSettings): ArchiveAccess<WatchRegistry> {
  const bounds = { userAgent: userAgentOf('archive') };
  const history = openArchive(settings.storage, bounds);
  const registry = new DynamoDbRegistry(registryOptions(settings.storage, bounds));
  return {
    archive: history.archive,
    registry,
    within: (signal) => ({ archive: history.within!(signal).archive, registry: cutBy(registry, signal) }),
  };
}
