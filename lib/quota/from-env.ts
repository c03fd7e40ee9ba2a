/** The GetSegmentTask limiter of a function, from validated configuration. */
import type { Logger } from '@aws-lambda-powertools/logger';
import { userAgentOf } from '../log.ts';
import { TokenBucket, type RateLimiter } from '../volc/rate-limiter.ts';
import { FleetLimiter } from './fleet-limiter.ts';
import type { QuotaStore } from './quota-store.ts';
import { slotSpacingMs, type Share, type SlotTiming } from './slots.ts';

const ARCHIVER_LEASE_SLOTS = 3;

export interface QuotaEnv {
  QUOTA_TABLE?: string | undefined;
  DYNAMODB_ENDPOINT?: string | undefined;
  VOLC_ACCOUNT_QPS: number;
  ARCHIVE_QPS: number;
  QUOTA_TIMEOUT_MS: number;
  QUOTA_FALLBACK_QPS: number;
  QUOTA_LATE_MS: number;
  QUOTA_NETWORK_MS: number;
}

/** How calls may spread between their slots and Volcengine. */
export const timingOf = (env: QuotaEnv): SlotTiming => ({ lateMs: env.QUOTA_LATE_MS, networkMs: env.QUOTA_NETWORK_MS });

/**
 * With QUOTA_TABLE, the fleet-wide limiter over DynamoDB; without it, `local` (a per-instance
 * token bucket, right for one instance only).
 */
export function limiterFromEnv(
  env: QuotaEnv,
  role: Share,
  local: TokenBucket,
  options: { logger?: Logger | undefined; maxWaitMs?: number; now?: (() => number) | undefined } = {},
): RateLimiter {
  if (!env.QUOTA_TABLE) return local;
  const { logger } = options;
  const timing = timingOf(env);
  const limiter = new FleetLimiter({
    store: lazyStore(env.QUOTA_TABLE, env.DYNAMODB_ENDPOINT, userAgentOf(role === 'archiver' ? 'archive' : 'lookup')),
    role,
    shares: { accountQps: env.VOLC_ACCOUNT_QPS, archiveQps: env.ARCHIVE_QPS },
    timing,
    storeTimeoutMs: env.QUOTA_TIMEOUT_MS,
    // QUOTA_FALLBACK_QPS in any second at Volcengine: its slots spaced like the shared ones, one at a time.
    fallback: new TokenBucket({
      ratePerSecond: 1000 / slotSpacingMs(env.QUOTA_FALLBACK_QPS, timing),
      burst: 1,
      lateAllowanceMs: timing.lateMs,
    }),
    ...(options.now ? { now: options.now } : {}),
    ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }),
    // The archiver (one instance, several calls in flight) takes its slots a few per write.
    leaseSlots: role === 'archiver' ? ARCHIVER_LEASE_SLOTS : 1,
    onDegraded: (error) =>
      logger?.warn('the quota table did not answer; this instance runs at QUOTA_FALLBACK_QPS until it does', { error }),
    onRecovered: () => logger?.info('the quota table answers again; the shared quota applies'),
  });
  // Learn the fleet's state and time now, so that the first slot does not pay for it.
  void limiter.warm();
  return limiter;
}

/** The DynamoDB store, with the DynamoDB client imported on first use (not at cold start). */
function lazyStore(table: string, endpoint: string | undefined, userAgent: string): QuotaStore {
  let store: Promise<QuotaStore> | undefined;
  const open = () =>
    (store ??= import('./quota-store.ts')
      .then(
        ({ DynamoDbQuotaStore }) => new DynamoDbQuotaStore(table, { endpoint, region: process.env.AWS_REGION ?? 'us-east-1', userAgent }),
      )
      .catch((error: unknown) => {
        store = undefined;
        throw error;
      }));
  return {
    take: async (...args) => (await open()).take(...args),
    join: async (...args) => (await open()).join(...args),
    read: async (...args) => (await open()).read(...args),
  };
}
