/** HTTP API POST /callbacks/volcengine → Volcengine event callbacks. Config is validated at cold start. */
import { CallbackEnvSchema, loadEnv } from '../lib/config.ts';
import { createLogger, createMetrics, userAgentOf } from '../lib/log.ts';
import { registryOptions } from '../lib/archive/access.ts';
import { DynamoDbRegistrations } from '../lib/archive/dynamodb-registrations.ts';
import { createCallbackHandler } from '../lib/callback/handler.ts';
import { EventBridgePublisher } from '../lib/callback/publisher.ts';
import { callbackSecretsFromEnv } from '../lib/callback/secrets.ts';

const env = loadEnv(CallbackEnvSchema, process.env);
// Each call is bounded so a slow store or bus cannot hold up the answer past Volcengine's 5 s.
const bounds = { maxAttempts: 2, requestTimeoutMs: env.CALLBACK_STORAGE_TIMEOUT_MS, userAgent: userAgentOf('callback') };

export const handler = createCallbackHandler({
  registry: new DynamoDbRegistrations(registryOptions(env, bounds)),
  publisher: new EventBridgePublisher({ busName: env.EVENT_BUS_NAME, region: env.AWS_REGION, endpoint: env.EVENTS_ENDPOINT, ...bounds }),
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
