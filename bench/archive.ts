/**
 * Archiver benchmarks and simulation (part of `npm run bench`).
 *
 *   archiver_qps_use      upstream calls/s of one run against the strict emulator (60/s per
 *                         account), as a fraction of the archiver's QPS budget; and its throttles
 *   pass_*                peak RSS and LIST calls of one pass over BENCH_WATCHED (100,000) tasks;
 *                         the archiver runs in its own process so its RSS is its own
 *   sim_*                 the capacity simulation (npm run simulate) on generated scenarios: TaskId
 *                         reuse, 3,000 ghosts, registration before the start, load above capacity
 */
import { spawn } from 'node:child_process';
import { runArchiver } from '../lib/archive/archiver.ts';
import { ArchiveKeys } from '../lib/archive/keys.ts';
import { S3ObjectStore, type ObjectStore } from '../lib/archive/object-store.ts';
import { SegmentArchive } from '../lib/archive/segment-archive.ts';
import { WatchRegistry } from '../lib/archive/watch-registry.ts';
import { ScenarioSchema } from '../lib/simulation/scenario.ts';
import { simulate } from '../lib/simulation/simulate.ts';
import { WINDOW_MS } from '../lib/task.ts';
import { VolcClient } from '../lib/volc/client.ts';
import { TokenBucket } from '../lib/volc/rate-limiter.ts';
import { VolcEmulator } from '../test/emulator/volc-emulator.ts';
import { S3TestServer } from '../test/s3/s3-server.ts';
import { aboveCapacity, ghosts, registrationBeforeStart, taskIdReuse, type ScenarioInput } from '../test/support/scenarios.ts';

const CREDENTIALS = { accessKeyId: 'AKLTBENCHARCHIVER', secretAccessKey: 'bench-archiver-secret' };
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

async function withStack<T>(
  emulatorOptions: { qpsLimit: number },
  work: (emulator: VolcEmulator, s3: S3TestServer) => Promise<T>,
): Promise<T> {
  const emulator = new VolcEmulator({ credentials: [CREDENTIALS], qpsLimits: { GetSegmentTask: emulatorOptions.qpsLimit } });
  await emulator.start();
  const s3 = new S3TestServer();
  await s3.start();
  try {
    return await work(emulator, s3);
  } finally {
    await emulator.stop();
    await s3.stop();
  }
}

async function seedWatched(emulator: VolcEmulator, store: ObjectStore, keys: ArchiveKeys, count: number): Promise<void> {
  const start = Date.now();
  const ids = Array.from({ length: count }, (_, i) => `task-${String(i).padStart(6, '0')}`);
  for (const [i, id] of ids.entries())
    emulator.seedTask({ appId: 'bench-app', roomId: `room-${i % 100}`, taskId: id, startTime: start - (i % 3600) * 1000 });
  for (let i = 0; i < ids.length; i += 256) {
    await Promise.all(
      ids.slice(i, i + 256).map((id, j) => {
        const n = i + j;
        const address = { appId: 'bench-app', roomId: `room-${n % 100}`, taskId: id };
        return store.putJson(
          keys.registryEntry({ deadline: start - (n % 3600) * 1000 + WINDOW_MS, state: 'known', nextPollAt: 0, address }),
          {},
        );
      }),
    );
  }
}

/** One run against the strict emulator: how much of the archiver's budget it turns into calls. */
export async function benchQpsUse(figures: Record<string, number>): Promise<void> {
  const budget = 50;
  const tasks = Number(process.env.BENCH_QPS_TASKS ?? 1500);
  await withStack({ qpsLimit: 60 }, async (emulator, s3) => {
    const store = new S3ObjectStore({ bucket: s3.bucket, endpoint: s3.url, region: 'us-east-1', forcePathStyle: true });
    const keys = new ArchiveKeys('');
    await seedWatched(emulator, store, keys, tasks);
    emulator.inject({ kind: 'latency', latencyMs: 40 }); // a realistic round trip to Volcengine
    const client = new VolcClient({
      endpoint: emulator.url,
      region: 'cn-north-1',
      service: 'rtc',
      credentials: () => CREDENTIALS,
      limiter: new TokenBucket({ ratePerSecond: budget, burst: 5 }),
      retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
    });
    const before = emulator.received.length;
    const started = performance.now();
    const summary = await runArchiver({
      registry: new WatchRegistry(store, keys),
      archive: new SegmentArchive(store, keys),
      upstream: client,
      version: '2023-11-01',
      now: Date.now,
      finalMarginMs: 30 * 60_000,
      callTimeoutMs: 5_000,
      concurrency: 16,
      timeLeftMs: () => Number.POSITIVE_INFINITY,
      safetyMs: 0,
      unknownRetryMs: 15 * 60_000,
    });
    const seconds = (performance.now() - started) / 1000;
    const calls = emulator.received.length - before;
    const throttled = emulator.received.slice(before).filter((r) => r.code === 'FlowLimitExceeded.QPSOverLimit').length;
    figures.archiver_calls_per_s = round(calls / seconds, 2);
    figures.archiver_qps_use = round(calls / seconds / budget);
    figures.archiver_throttles = throttled + summary.throttled;
    console.log(
      `archiver: ${round(calls / seconds, 1)} calls/s against a ${budget}/s budget (×${figures.archiver_qps_use}, goal ≥ 0.95), ` +
        `${figures.archiver_throttles} throttled (goal 0), ${summary.tasksPolled} tasks`,
    );
  });
}

/** One pass over many watched tasks, the archiver in a child process: its peak RSS and the LIST calls. */
export async function benchPass(figures: Record<string, number>): Promise<void> {
  const count = Number(process.env.BENCH_WATCHED ?? 100_000);
  await withStack({ qpsLimit: Number.MAX_SAFE_INTEGER }, async (emulator, s3) => {
    const store = new S3ObjectStore({ bucket: s3.bucket, endpoint: s3.url, region: 'us-east-1', forcePathStyle: true });
    const keys = new ArchiveKeys('');
    const seeding = performance.now();
    await seedWatched(emulator, store, keys, count);
    console.log(`pass: seeded ${count} watched tasks in ${round((performance.now() - seeding) / 1000, 1)} s`);
    const lists = s3.counts.LIST;
    // A 256 MB Lambda gives V8 a heap of about this size; without a limit V8 grows lazily and RSS says little.
    const child = spawn(process.execPath, ['--max-old-space-size=160', '--import', 'tsx', 'bench/archive-pass.ts'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BENCH_EMULATOR: emulator.url, BENCH_S3: s3.url, BENCH_BUCKET: s3.bucket },
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    await new Promise((resolve) => child.on('exit', resolve));
    const result = JSON.parse(/RESULT (.*)/.exec(output)![1]!) as { maxRssMiB: number; tasksPolled: number; seconds: number };
    figures.pass_watched = count;
    figures.pass_tasks_polled = result.tasksPolled;
    figures.pass_peak_rss_mib = round(result.maxRssMiB, 1);
    figures.pass_list_calls = s3.counts.LIST - lists;
    figures.pass_list_calls_limit = Math.floor(count / 1000) + 1;
    console.log(
      `pass: ${result.tasksPolled} of ${count} tasks in ${round(result.seconds, 1)} s; ` +
        `peak RSS ${figures.pass_peak_rss_mib} MiB (goal ≤ 256); ` +
        `${figures.pass_list_calls} LIST calls (goal ≤ ${figures.pass_list_calls_limit})`,
    );
  });
}

/**
 * The capacity simulation (lib/simulation, as `npm run simulate` runs it) on generated scenarios:
 * every lifecycle case of test/support/scenarios.ts, and load above the archiver's capacity.
 */
export async function simulateScenarios(figures: Record<string, number>): Promise<void> {
  const cases: Array<[string, ScenarioInput]> = [
    ['reuse', taskIdReuse(300, 5)],
    ['ghosts', ghosts(3_000)],
    ['before_start', registrationBeforeStart(500)],
    ['above_capacity', aboveCapacity(2_000, 2)],
  ];
  for (const [label, input] of cases) {
    const result = await simulate(ScenarioSchema.parse(input));
    const prefix = `sim_${label}`;
    const s = result.summary;
    figures[`${prefix}_runs`] = s.runsInScenario;
    figures[`${prefix}_not_settled`] = s.runsDiscoveredNotSettled;
    figures[`${prefix}_wrong_run_lookups`] = s.wrongRunLookups;
    figures[`${prefix}_final_missed`] = result.finalSnapshotsMissed;
    figures[`${prefix}_lag_p50_s`] = round(result.lag.p50, 1);
    figures[`${prefix}_lag_p95_s`] = round(result.lag.p95, 1);
    figures[`${prefix}_lag_max_s`] = round(result.lag.max, 1);
    figures[`${prefix}_wall_s`] = s.wallSeconds;
    console.log(
      `simulation ${label}: ${s.runsInScenario} runs, ${s.ghosts} ghosts over ${input.hours} h in ${s.wallSeconds} s; ` +
        `not settled ${s.runsDiscoveredNotSettled}, ` +
        `wrong-run lookups ${s.wrongRunLookups}, final snapshots missed ${result.finalSnapshotsMissed}, ` +
        (s.ghosts ? `ghost polls ≤ ${s.ghostMaxPolls} (≥ ${s.ghostMinPollIntervalMinutes} min apart), ` : '') +
        `lag p50 ${figures[`${prefix}_lag_p50_s`]} s / p95 ${figures[`${prefix}_lag_p95_s`]} s / max ${figures[`${prefix}_lag_max_s`]} s`,
    );
  }
}
