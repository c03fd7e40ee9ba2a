/** Builds the lookup function's parts from validated configuration. */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { LookupEnv } from '../config.ts';
import type { VolcClient, VolcClientOptions } from '../volc/client.ts';
import { volcClientFromEnv } from '../volc/from-env.ts';
import { createLookupHandler } from './handler.ts';
import { SegmentTaskLookup } from './segment-task-lookup.ts';

export function buildVolcClient(env: LookupEnv, overrides: Partial<VolcClientOptions> = {}): VolcClient {
  return volcClientFromEnv(env, { ratePerSecond: env.LOOKUP_QPS, burst: env.LOOKUP_BURST }, overrides);
}

export function buildLookupHandler(env: LookupEnv, logger: Logger, client = buildVolcClient(env), now: () => number = Date.now) {
  const bucket = env.ARCHIVE_BUCKET;
  // The archive (and with it the S3 client) is imported on first use, so the live path's cold start does not load it.
  const openArchive = bucket ? () => import('../archive/access.ts').then(({ openArchive }) => openArchive({ ...env, ARCHIVE_BUCKET: bucket }, { maxAttempts: 2, requestTimeoutMs: env.LOOKUP_ARCHIVE_TIMEOUT_MS })) : undefined;
  const lookup = new SegmentTaskLookup({
    upstream: client,
    deadlineMs: env.LOOKUP_DEADLINE_MS,
    cacheEntries: env.LOOKUP_CACHE_ENTRIES,
    terminalTtlMs: env.LOOKUP_TERMINAL_TTL_MS,
    openArchive,
    logger,
    now,
  });
  return createLookupHandler({ lookup, region: env.VOLC_REGION, logger, now });
}
