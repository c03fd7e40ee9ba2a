/** HTTP API (payload 2.0) → GetSegmentTask lookups. Config is validated at cold start. */
import { LookupEnvSchema, loadEnv } from '../lib/config.ts';
import { createLogger, createMetrics } from '../lib/log.ts';
import { buildLookupHandler } from '../lib/lookup/wiring.ts';

const env = loadEnv(LookupEnvSchema, process.env);
const logger = createLogger('lookup');

export const handler = buildLookupHandler(env, logger, { metrics: createMetrics('lookup') });
