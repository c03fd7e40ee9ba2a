/**
 * One archiver run in a process of its own, so its peak RSS is its own (see bench/archive.ts);
 * BENCH_POLLS bounds it like a Lambda's time budget would (polls instead of seconds).
 */
import { openArchive, registryOptions } from '../lib/archive/access.ts';
import { buildArchiver } from '../lib/archive/build.ts';
import { DynamoDbRegistry } from '../lib/archive/dynamodb-registry.ts';
import { archiverSettings } from '../lib/config.ts';
import { buildUpstream } from '../lib/volc/build-upstream.ts';
import { TokenBucket } from '../lib/volc/client.ts';
import { REGISTRY_TABLE } from '../test/dynamodb/dynalite-server.ts';

const settings = archiverSettings({
  VOLC_ENDPOINT: process.env.BENCH_EMULATOR,
  VOLC_ACCESS_KEY_ID: 'AKLTBENCHARCHIVER',
  VOLC_SECRET_ACCESS_KEY: 'bench-archiver-secret',
  VOLC_RETRY_BASE_MS: '50',
  VOLC_RETRY_MAX_MS: '500',
  ARCHIVE_BUCKET: process.env.BENCH_BUCKET,
  S3_ENDPOINT: process.env.BENCH_S3,
  S3_REGION: 'us-east-1',
  S3_FORCE_PATH_STYLE: 'true',
  REGISTRY_TABLE,
  DYNAMODB_ENDPOINT: process.env.BENCH_DYNAMODB,
  AWS_REGION: 'us-east-1',
  ARCHIVE_CONCURRENCY: '64',
  ARCHIVE_CALL_TIMEOUT_MS: '10000',
});
// The registry's own client: its usage (requests and capacity units) is what the pass reports.
const registry = new DynamoDbRegistry(registryOptions(settings.storage));
const limit = process.env.BENCH_POLLS ? Number(process.env.BENCH_POLLS) : Number.POSITIVE_INFINITY;
// Volcengine unpaced: the pass measures the archiver's own work.
const { client } = buildUpstream(settings, 'archiver', { limiter: new TokenBucket({ ratePerSecond: 1e9, burst: 1e9 }) });
let polls = 0;
const { run } = buildArchiver(settings, {
  access: { archive: openArchive(settings.storage).archive, registry },
  upstream: {
    getSegmentTask: (...args) => {
      polls++;
      return client.getSegmentTask(...args);
    },
  },
});
const started = performance.now();
const summary = await run({
  tick: Date.now(),
  owner: `bench-pass-${process.pid}`,
  timeLeftMs: () => (polls < limit ? Number.POSITIVE_INFINITY : 0),
  safetyMs: 1,
});
const maxRssMiB = process.resourceUsage().maxRSS / 1024;
const result = {
  maxRssMiB,
  tasksPolled: summary.tasksPolled,
  errors: summary.errors,
  seconds: (performance.now() - started) / 1000,
  usage: registry.usage,
};
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
