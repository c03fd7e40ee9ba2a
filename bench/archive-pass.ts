/**
 * One archiver run in a process of its own, so its peak RSS is its own (see bench/archive.ts);
 * BENCH_POLLS bounds it like a Lambda's time budget would (polls instead of seconds).
 */
import { runArchiver } from '../lib/archive/archiver.ts';
import { DynamoDbRegistry } from '../lib/archive/dynamodb-registry.ts';
import { ArchiveKeys } from '../lib/archive/keys.ts';
import { S3ObjectStore } from '../lib/archive/object-store.ts';
import { SegmentArchive } from '../lib/archive/segment-archive.ts';
import { VolcClient } from '../lib/volc/client.ts';
import { TokenBucket } from '../lib/volc/rate-limiter.ts';
import { REGISTRY_TABLE } from '../test/dynamodb/dynalite-server.ts';

const store = new S3ObjectStore({
  bucket: process.env.BENCH_BUCKET!,
  endpoint: process.env.BENCH_S3!,
  region: 'us-east-1',
  forcePathStyle: true,
});
const registry = new DynamoDbRegistry({ table: REGISTRY_TABLE, endpoint: process.env.BENCH_DYNAMODB!, region: 'us-east-1' });
const limit = process.env.BENCH_POLLS ? Number(process.env.BENCH_POLLS) : Number.POSITIVE_INFINITY;
const upstream = new VolcClient({
  endpoint: process.env.BENCH_EMULATOR!,
  region: 'cn-north-1',
  service: 'rtc',
  credentials: () => ({ accessKeyId: 'AKLTBENCHARCHIVER', secretAccessKey: 'bench-archiver-secret' }),
  limiter: new TokenBucket({ ratePerSecond: 1e9, burst: 1e9 }),
  retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 500 },
});
let polls = 0;
const started = performance.now();
const summary = await runArchiver({
  registry,
  archive: new SegmentArchive(store, new ArchiveKeys('')),
  upstream: {
    getSegmentTask: (...args) => {
      polls++;
      return upstream.getSegmentTask(...args);
    },
  },
  version: '2023-11-01',
  now: Date.now,
  tick: Date.now(),
  owner: `bench-pass-${process.pid}`,
  finalMarginMs: 30 * 60_000,
  callTimeoutMs: 10_000,
  concurrency: 64,
  timeLeftMs: () => (polls < limit ? Number.POSITIVE_INFINITY : 0),
  safetyMs: 1,
  unknownRetryMs: 15 * 60_000,
  refreshMs: 5 * 60_000,
  refreshCallsPerSecond: 6,
  idleMarginMs: 2 * 60_000,
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
