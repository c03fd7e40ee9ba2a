/** One archiver pass in a process of its own, so its peak RSS is its own (see bench/archive.ts). */
import { runArchiver } from '../lib/archive/archiver.ts';
import { ArchiveKeys } from '../lib/archive/keys.ts';
import { S3ObjectStore } from '../lib/archive/object-store.ts';
import { SegmentArchive } from '../lib/archive/segment-archive.ts';
import { WatchRegistry } from '../lib/archive/watch-registry.ts';
import { VolcClient } from '../lib/volc/client.ts';
import { TokenBucket } from '../lib/volc/rate-limiter.ts';

const store = new S3ObjectStore({
  bucket: process.env.BENCH_BUCKET!,
  endpoint: process.env.BENCH_S3!,
  region: 'us-east-1',
  forcePathStyle: true,
});
const keys = new ArchiveKeys('');
const started = performance.now();
const summary = await runArchiver({
  registry: new WatchRegistry(store, keys),
  archive: new SegmentArchive(store, keys),
  upstream: new VolcClient({
    endpoint: process.env.BENCH_EMULATOR!,
    region: 'cn-north-1',
    service: 'rtc',
    credentials: () => ({ accessKeyId: 'AKLTBENCHARCHIVER', secretAccessKey: 'bench-archiver-secret' }),
    limiter: new TokenBucket({ ratePerSecond: 1e9, burst: 1e9 }),
    retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 500 },
  }),
  version: '2023-11-01',
  now: Date.now,
  finalMarginMs: 30 * 60_000,
  callTimeoutMs: 10_000,
  concurrency: 64,
  timeLeftMs: () => Number.POSITIVE_INFINITY,
  safetyMs: 0,
  unknownRetryMs: 15 * 60_000,
});
const maxRssMiB = process.resourceUsage().maxRSS / 1024;
const result = { maxRssMiB, tasksPolled: summary.tasksPolled, errors: summary.errors, seconds: (performance.now() - started) / 1000 };
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
