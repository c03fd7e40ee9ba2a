/**
 * A function's way to Volcengine, from its settings: the client, its credentials (the keys, or an
 * SSM SecureString read at run time) and its GetSegmentTask limiter — the fleet-wide quota over
 * DynamoDB with a quota table, else the function's own token bucket.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { z } from 'zod';
import type { SecretsSettings, UpstreamSettings, VolcSettings } from '../config.ts';
import { userAgentOf } from '../log.ts';
import { FleetLimiter, type QuotaStats } from '../quota/fleet-limiter.ts';
import { DynamoDbQuotaStore } from '../quota/quota-store.ts';
import { slotSpacingMs, type Share } from '../quota/slots.ts';
import { cachedParameter } from '../secrets.ts';
import { TokenBucket, VolcClient, type CredentialsProvider, type RateLimiter, type VolcClientOptions } from './client.ts';
import type { VolcCredentials } from './signer.ts';

const ARCHIVER_LEASE_SLOTS = 3;

/**
 * The SecureString holding Volcengine credentials.
 * @example { "AccessKeyId": "AKLT…", "SecretAccessKey": "…", "SessionToken": "STS…" }
 */
const VolcCredentialsParameterSchema = z.object({
  AccessKeyId: z.string().trim().min(1),
  SecretAccessKey: z.string().min(1),
  SessionToken: z.string().min(1).optional(),
});

class CredentialsFormatError extends Error {
  override name = 'CredentialsFormatError';
}

function credentialsOf(volc: VolcSettings, secrets: SecretsSettings, userAgent: string): VolcCredentials | CredentialsProvider {
  const source = volc.credentials;
  if ('parameter' in source) {
    const { parameter } = source;
    const read = cachedParameter(parameter, { ttlMs: secrets.cacheTtlMs, endpoint: secrets.ssmEndpoint, userAgent });
    return async () => {
      let parsed: ReturnType<typeof VolcCredentialsParameterSchema.safeParse>;
      try {
        parsed = VolcCredentialsParameterSchema.safeParse(JSON.parse(await read()));
      } catch (error) {
        if (error instanceof SyntaxError) throw new CredentialsFormatError(`${parameter} is not JSON`);
        throw error;
      }
      if (!parsed.success) throw new CredentialsFormatError(`${parameter} must hold {"AccessKeyId","SecretAccessKey","SessionToken"?}`);
      return { accessKeyId: parsed.data.AccessKeyId, secretAccessKey: parsed.data.SecretAccessKey, sessionToken: parsed.data.SessionToken };
    };
  }
  return { accessKeyId: source.accessKeyId, secretAccessKey: source.secretAccessKey, sessionToken: source.sessionToken };
}

/** The shared quota's counters, published with a function's metrics. */
export interface QuotaCounters {
  drainStats(): QuotaStats;
}

export interface UpstreamOverrides {
  logger?: Logger | undefined;
  /** The limiter instead of the settings' (tests and the bench pace the client themselves). */
  limiter?: RateLimiter | undefined;
  /** The clock the shared quota reads (tests skew it). */
  quotaNow?: (() => number) | undefined;
  /** With the shared quota: the longest a call waits for a slot. */
  maxWaitMs?: number | undefined;
  /** Client options over the settings' (tests: the signing clock). */
  client?: Partial<VolcClientOptions> | undefined;
}

export interface Upstream {
  client: VolcClient;
  /** With the shared quota: its counters; undefined with a token bucket. */
  quota: QuotaCounters | undefined;
}

/** The Volcengine client of `role` (its user agent, its share of the quota), from `settings`. */
export function buildUpstream(settings: UpstreamSettings, role: Share, overrides: UpstreamOverrides = {}): Upstream {
  const userAgent = userAgentOf(role === 'archiver' ? 'archive' : 'lookup');
  const fleet = overrides.limiter || !settings.quota.table ? undefined : fleetLimiter(settings, role, userAgent, overrides);
  const { bucket, timing } = settings.quota;
  const limiter =
    overrides.limiter ?? fleet ?? new TokenBucket({ ratePerSecond: bucket.qps, burst: bucket.burst, lateAllowanceMs: timing.lateMs });
  const { volc } = settings;
  const client = new VolcClient({
    endpoint: volc.endpoint,
    region: volc.region,
    service: volc.service,
    credentials: credentialsOf(volc, settings.secrets, userAgent),
    limiter,
    retry: volc.retry,
    ...overrides.client,
  });
  return { client, quota: fleet };
}

/** The fleet-wide limiter over the quota table, warming up at once (so that the first slot does not pay for it). */
function fleetLimiter(settings: UpstreamSettings, role: Share, userAgent: string, overrides: UpstreamOverrides): FleetLimiter {
  const { quota } = settings;
  const { logger } = overrides;
  const limiter = new FleetLimiter({
    store: new DynamoDbQuotaStore(quota.table!, { endpoint: quota.dynamodbEndpoint, region: quota.region, userAgent }),
    role,
    shares: { accountQps: quota.accountQps, archiveQps: quota.archiveQps },
    timing: quota.timing,
    storeTimeoutMs: quota.timeoutMs,
    // QUOTA_FALLBACK_QPS in any second at Volcengine: its slots spaced like the shared ones, one at a time.
    fallback: new TokenBucket({
      ratePerSecond: 1000 / slotSpacingMs(quota.fallbackQps, quota.timing),
      burst: 1,
      lateAllowanceMs: quota.timing.lateMs,
    }),
    ...(overrides.quotaNow ? { now: overrides.quotaNow } : {}),
    ...(overrides.maxWaitMs === undefined ? {} : { maxWaitMs: overrides.maxWaitMs }),
    // The archiver (one instance, several calls in flight) takes its slots a few per write.
    leaseSlots: role === 'archiver' ? ARCHIVER_LEASE_SLOTS : 1,
    onDegraded: (error) =>
      logger?.warn('the quota table did not answer; this instance runs at QUOTA_FALLBACK_QPS until it does', { error }),
    onRecovered: () => logger?.info('the quota table answers again; the shared quota applies'),
  });
  void limiter.warm();
  return limiter;
}
