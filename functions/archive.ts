/** EventBridge schedule → one archiver run. Config is validated at cold start. */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { ArchiverEnvSchema, loadEnv } from '../lib/config.ts';
import { createLogger, SERVICE_NAME } from '../lib/log.ts';
import { openArchive } from '../lib/archive/access.ts';
import { createArchiverHandler } from '../lib/archive/archiver-handler.ts';
import { volcClientFromEnv } from '../lib/volc/from-env.ts';

const env = loadEnv(ArchiverEnvSchema, process.env);

export const handler = createArchiverHandler({
  env,
  access: openArchive(env),
  upstream: volcClientFromEnv(env, { ratePerSecond: env.ARCHIVE_QPS, burst: env.ARCHIVE_BURST }),
  logger: createLogger('archive'),
  metrics: new Metrics({ namespace: 'RtcSegmentTasks', serviceName: SERVICE_NAME }),
});
