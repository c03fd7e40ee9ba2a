/** A VolcClient from validated environment settings (shared by every function). */
import { VolcClient, type VolcClientOptions } from './client.ts';
import { TokenBucket } from './rate-limiter.ts';

export interface VolcClientEnv {
  VOLC_ENDPOINT: string;
  VOLC_REGION: string;
  VOLC_SERVICE: string;
  VOLC_ACCESS_KEY_ID: string;
  VOLC_SECRET_ACCESS_KEY: string;
  VOLC_SESSION_TOKEN?: string | undefined;
  VOLC_MAX_ATTEMPTS: number;
  VOLC_RETRY_BASE_MS: number;
  VOLC_RETRY_MAX_MS: number;
}

export function volcClientFromEnv(env: VolcClientEnv, budget: { ratePerSecond: number; burst: number }, overrides: Partial<VolcClientOptions> = {}): VolcClient {
  const credentials = { accessKeyId: env.VOLC_ACCESS_KEY_ID, secretAccessKey: env.VOLC_SECRET_ACCESS_KEY, sessionToken: env.VOLC_SESSION_TOKEN };
  return new VolcClient({
    endpoint: env.VOLC_ENDPOINT,
    region: env.VOLC_REGION,
    service: env.VOLC_SERVICE,
    credentials: () => credentials,
    limiter: new TokenBucket(budget),
    retry: { maxAttempts: env.VOLC_MAX_ATTEMPTS, baseDelayMs: env.VOLC_RETRY_BASE_MS, maxDelayMs: env.VOLC_RETRY_MAX_MS },
    ...overrides,
  });
}
