/** HTTP API (payload 2.0) → GetSegmentTask lookups. Config is validated at cold start. */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { LookupEnvSchema, loadEnv } from '../lib/config.ts';
import { createLogger, SERVICE_NAME } from '../lib/log.ts';
import { buildLookupHandler } from '../lib/lookup/wiring.ts';

const env = loadEnv(LookupEnvSchema, process.env);
const logger = createLogger('lookup');

export const handler = buildLookupHandler(env, logger, { metrics: new Metrics({ namespace: 'RtcSegmentTasks', serviceName: SERVICE_NAME }) });
