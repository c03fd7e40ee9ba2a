/** Builds the lookup function's parts from validated configuration. */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { LookupEnv } from '../config.ts';
import { userAgentOf } from '../log.ts';
import { FleetLimiter } from '../quota/fleet-limiter.ts';
import { limiterFromEnv } from '../quota/from-env.ts';
import type { VolcClient, VolcClientOptions } from '../volc/client.ts';
import { volcClientFromEnv } from '../volc/from-env.ts';
import { TokenBucket, type RateLimiter } from '../volc/rate-limiter.ts';
import { createLookupHandler } from './handler.ts';
import { SegmentTaskLookup } from './segment-task-lookup.ts';

export interface LookupWiringOptions {
  now?: () => number;
  /** The limiter to use instead of buildLookupLimiter's (the quota bench reads its counters). */
  limiter?: RateLimiter;
  clientOverrides?: Partial<VolcClientOptions>;
  /** Published per invocation: answers by source, upstream throttles, quota use. */
  metrics?: Metrics;
}

/** The lookup's share of the shared quota (QUOTA_TABLE), or its own token bucket. `now`: the quota's clock (tests skew it). */
export function buildLookupLimiter(env: LookupEnv, logger?: Logger, now?: () => number): RateLimiter {
  const local = new TokenBucket({ ratePerSecond: env.LOOKUP_QPS, burst: env.LOOKUP_BURST, lateAllowanceMs: env.QUOTA_LATE_MS });
  return limiterFromEnv(env, 'lookup', local, { logger, maxWaitMs: env.LOOKUP_QUOTA_WAIT_MS, now });
}

export function buildVolcClient(
  env: LookupEnv,
  overrides: Partial<VolcClientOptions> = {},
  limiter: RateLimiter = buildLookupLimiter(env),
): VolcClient {
  return volcClientFromEnv(env, { limiter, userAgent: userAgentOf('lookup'), overrides });
}

export function buildLookupHandler(env: LookupEnv, logger: Logger, options: LookupWiringOptions = {}) {
  const now = options.now ?? Date.now;
  const limiter = options.limiter ?? buildLookupLimiter(env, logger);
  const client = buildVolcClient(env, { now, ...options.clientOverrides }, limiter);
  const bucket = env.ARCHIVE_BUCKET;
  const table = env.REGISTRY_TABLE;
  // The archive (and with it the S3 and DynamoDB clients) is imported on first use, so the live path's cold start does not load it.
  const openArchive =
    bucket && table
      ? () =>
          import('../archive/access.ts').then(({ openArchive }) =>
            openArchive(
              { ...env, ARCHIVE_BUCKET: bucket, REGISTRY_TABLE: table },
              { maxAttempts: 2, requestTimeoutMs: env.LOOKUP_ARCHIVE_TIMEOUT_MS, userAgent: userAgentOf('lookup') },
            ),
          )
      : undefined;
  const lookup = new SegmentTaskLookup({
    upstream: client,
    withoutTaskId: client,
    deadlineMs: env.LOOKUP_DEADLINE_MS,
    archiveReserveMs: env.LOOKUP_ARCHIVE_TIMEOUT_MS,
    cacheEntries: env.LOOKUP_CACHE_ENTRIES,
    terminalTtlMs: env.LOOKUP_TERMINAL_TTL_MS,
    openArchive,
    logger,
    now,
  });
  const quota = limiter instanceof FleetLimiter ? limiter : undefined;
  return createLookupHandler({ lookup, region: env.VOLC_REGION, logger, now, metrics: options.metrics, quota });
}
