/** EventBridge schedule → one archiver run. Config is validated at cold start. */
import { ArchiverEnvSchema, loadEnv } from '../lib/config.ts';
import { createLogger, createMetrics, userAgentOf } from '../lib/log.ts';
import { openArchive, registryOptions } from '../lib/archive/access.ts';
import { DynamoDbRegistry } from '../lib/archive/dynamodb-registry.ts';
import { createArchiverHandler } from '../lib/archive/handler.ts';
import { FleetLimiter } from '../lib/quota/fleet-limiter.ts';
import { limiterFromEnv } from '../lib/quota/from-env.ts';
import { volcClientFromEnv } from '../lib/volc/from-env.ts';
import { TokenBucket } from '../lib/volc/rate-limiter.ts';

const env = loadEnv(ArchiverEnvSchema, process.env);
const logger = createLogger('archive');
const limiter = limiterFromEnv(
  env,
  'archiver',
  new TokenBucket({ ratePerSecond: env.ARCHIVE_QPS, burst: env.ARCHIVE_BURST, lateAllowanceMs: env.QUOTA_LATE_MS }),
  { logger },
);

const stores = { userAgent: userAgentOf('archive') };

export const handler = createArchiverHandler({
  env,
  access: { archive: openArchive(env, stores).archive, registry: new DynamoDbRegistry(registryOptions(env, stores)) },
  upstream: volcClientFromEnv(env, { limiter, userAgent: userAgentOf('archive') }),
  logger,
  metrics: createMetrics('archive'),
  quota: limiter instanceof FleetLimiter ? limiter : undefined,
});
