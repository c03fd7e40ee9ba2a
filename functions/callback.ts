/** HTTP API POST /callbacks/volcengine → Volcengine event callbacks. Config is validated at cold start. */
import { CallbackEnvSchema, loadEnv } from '../lib/config.ts';
import { createLogger, createMetrics, userAgentOf } from '../lib/log.ts';
import { openArchive } from '../lib/archive/access.ts';
import { createCallbackHandler } from '../lib/callback/handler.ts';
import { callbackSecretsFromEnv } from '../lib/callback/secrets.ts';

const env = loadEnv(CallbackEnvSchema, process.env);

export const handler = createCallbackHandler({
  access: openArchive(env, { maxAttempts: 2, requestTimeoutMs: env.CALLBACK_STORAGE_TIMEOUT_MS, userAgent: userAgentOf('callback') }),
  settings: {
    secretFor: callbackSecretsFromEnv(env, userAgentOf('callback')),
    maxSkewMs: env.CALLBACK_MAX_SKEW_MS,
    maxBodyBytes: env.CALLBACK_MAX_BODY_BYTES,
    budgetMs: env.CALLBACK_BUDGET_MS,
  },
  logger: createLogger('callback'),
  metrics: createMetrics('callback'),
  region: env.VOLC_REGION,
});
