/** Builds the lookup function's parts from validated configuration. */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { LookupEnv } from '../config.ts';
import { VolcClient, type VolcClientOptions } from '../volc/client.ts';
import { TokenBucket } from '../volc/rate-limiter.ts';
import { createLookupHandler } from './handler.ts';
import { SegmentTaskLookup } from './segment-task-lookup.ts';

export function buildVolcClient(env: LookupEnv, overrides: Partial<VolcClientOptions> = {}): VolcClient {
  const staticCredentials = {
    accessKeyId: env.VOLC_ACCESS_KEY_ID,
    secretAccessKey: env.VOLC_SECRET_ACCESS_KEY,
    sessionToken: env.VOLC_SESSION_TOKEN,
  };
  return new VolcClient({
    endpoint: env.VOLC_ENDPOINT,
    region: env.VOLC_REGION,
    service: env.VOLC_SERVICE,
    credentials: () => staticCredentials,
    limiter: new TokenBucket({ ratePerSecond: env.LOOKUP_QPS, burst: env.LOOKUP_BURST }),
    retry: { maxAttempts: env.VOLC_MAX_ATTEMPTS, baseDelayMs: env.VOLC_RETRY_BASE_MS, maxDelayMs: env.VOLC_RETRY_MAX_MS },
    ...overrides,
  });
}

export function buildLookupHandler(env: LookupEnv, logger: Logger, client = buildVolcClient(env)) {
  const lookup = new SegmentTaskLookup({ client, deadlineMs: env.LOOKUP_DEADLINE_MS, cacheEntries: env.LOOKUP_CACHE_ENTRIES });
  return createLookupHandler({ lookup, region: env.VOLC_REGION, logger });
}
