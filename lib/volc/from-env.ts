/** A VolcClient from validated environment settings (shared by every function). */
import { z } from 'zod';
import { cachedParameter } from '../secrets.ts';
import { VolcClient, type CredentialsProvider, type VolcClientOptions } from './client.ts';
import type { RateLimiter } from './rate-limiter.ts';

export interface VolcClientEnv {
  VOLC_ENDPOINT: string;
  VOLC_REGION: string;
  VOLC_SERVICE: string;
  VOLC_ACCESS_KEY_ID?: string | undefined;
  VOLC_SECRET_ACCESS_KEY?: string | undefined;
  VOLC_SESSION_TOKEN?: string | undefined;
  VOLC_CREDENTIALS_PARAMETER?: string | undefined;
  SSM_ENDPOINT?: string | undefined;
  SECRETS_CACHE_TTL_MS: number;
  VOLC_MAX_ATTEMPTS: number;
  VOLC_RETRY_BASE_MS: number;
  VOLC_RETRY_MAX_MS: number;
}

/**
 * The SecureString holding Volcengine credentials.
 * @example { "AccessKeyId": "AKLT…", "SecretAccessKey": "…", "SessionToken": "STS…" }
 */
export const VolcCredentialsParameterSchema = z.object({
  AccessKeyId: z.string().trim().min(1),
  SecretAccessKey: z.string().min(1),
  SessionToken: z.string().min(1).optional(),
});

export class CredentialsFormatError extends Error {
  override name = 'CredentialsFormatError';
}

export function credentialsFromEnv(env: VolcClientEnv, userAgent: string): CredentialsProvider {
  if (env.VOLC_CREDENTIALS_PARAMETER) {
    const parameter = env.VOLC_CREDENTIALS_PARAMETER;
    const read = cachedParameter(parameter, { ttlMs: env.SECRETS_CACHE_TTL_MS, endpoint: env.SSM_ENDPOINT, userAgent });
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
  const credentials = {
    accessKeyId: env.VOLC_ACCESS_KEY_ID!,
    secretAccessKey: env.VOLC_SECRET_ACCESS_KEY!,
    sessionToken: env.VOLC_SESSION_TOKEN,
  };
  return () => credentials;
}

export interface VolcClientWiring {
  limiter: RateLimiter;
  /** The calling function's user agent (userAgentOf), sent to SSM when credentials come from there. */
  userAgent: string;
  overrides?: Partial<VolcClientOptions>;
}

export function volcClientFromEnv(env: VolcClientEnv, { limiter, userAgent, overrides = {} }: VolcClientWiring): VolcClient {
  return new VolcClient({
    endpoint: env.VOLC_ENDPOINT,
    region: env.VOLC_REGION,
    service: env.VOLC_SERVICE,
    credentials: credentialsFromEnv(env, userAgent),
    limiter,
    retry: { maxAttempts: env.VOLC_MAX_ATTEMPTS, baseDelayMs: env.VOLC_RETRY_BASE_MS, maxDelayMs: env.VOLC_RETRY_MAX_MS },
    ...overrides,
  });
}
