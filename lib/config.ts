/**
 * Configuration from the environment, validated once when a function's module loads so a bad
 * deploy fails at cold start. Messages name the variable, never its value.
 */
import { z } from 'zod';
import { DEFAULT_ENDPOINT, DEFAULT_REGION, DEFAULT_SERVICE } from './volc/client.ts';

const intFrom = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

/**
 * Environment of the lookup function.
 * @example { "VOLC_ACCESS_KEY_ID": "AKLT...", "VOLC_SECRET_ACCESS_KEY": "...", "LOOKUP_QPS": "50" }
 */
export const LookupEnvSchema = z
  .object({
    VOLC_ENDPOINT: z.url({ protocol: /^https?$/ }).default(DEFAULT_ENDPOINT),
    VOLC_REGION: z.string().min(1).default(DEFAULT_REGION),
    VOLC_SERVICE: z.string().min(1).default(DEFAULT_SERVICE),
    VOLC_ACCESS_KEY_ID: z.string().trim().min(1),
    VOLC_SECRET_ACCESS_KEY: z.string().min(1),
    VOLC_SESSION_TOKEN: z.string().min(1).optional(),
    /** Sustained GetSegmentTask calls per second from one instance. */
    LOOKUP_QPS: z.coerce.number().positive().max(60).default(50),
    /** Calls allowed at once on top of the rate; rate + burst must stay within 60. */
    LOOKUP_BURST: intFrom(1, 59, 5),
    /** Whole-request budget for a lookup, retries included. */
    LOOKUP_DEADLINE_MS: intFrom(100, 29_000, 5_000),
    VOLC_MAX_ATTEMPTS: intFrom(1, 10, 4),
    VOLC_RETRY_BASE_MS: intFrom(1, 10_000, 100),
    VOLC_RETRY_MAX_MS: intFrom(1, 30_000, 2_000),
    /** Terminal tasks (Status 3/4) kept in memory per instance. */
    LOOKUP_CACHE_ENTRIES: intFrom(0, 100_000, 1_000),
  })
  .refine((env) => env.LOOKUP_QPS + env.LOOKUP_BURST <= 60, {
    message: 'LOOKUP_QPS + LOOKUP_BURST must not exceed 60 (Volcengine allows 60 GetSegmentTask calls per second per account)',
    path: ['LOOKUP_QPS'],
  });
export type LookupEnv = z.infer<typeof LookupEnvSchema>;

export class ConfigurationError extends Error {}

/** Parses `env` with `schema`; the error lists variable names and problems, not values. */
export function loadEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`);
  throw new ConfigurationError(`invalid configuration: ${problems.join('; ')}`);
}
