/**
 * Archiver benchmarks and simulation (part of `npm run bench`).
 *
 *   archiver_qps_use      upstream calls/s of one run against the strict emulator (60/s per
 *                         account), as a fraction of the archiver's QPS budget; and its throttles
 *   pass_*                peak RSS and LIST calls of one pass over BENCH_WATCHED (100,000) tasks;
 *                         the archiver runs in its own process so its RSS is its own
 *   sim_*                 a week of task arrivals on a virtual clock, through the real archiver
 *                         code (in-memory object store), below and above capacity: final
 *                         snapshots lost and the archive-lag distribution
 */
import { spawn } from 'node:child_process';
import { runArchiver } from '../lib/archive/archiver.ts';
import { ArchiveKeys } from '../lib/archive/keys.ts';
import { ObjectStore } from '../lib/archive/object-store.ts';
import { SegmentArchive } from '../lib/archive/segment-archive.ts';
import { WatchRegistry, WINDOW_MS } from '../lib/archive/watch-registry.ts';
import type { VolcClient } from '../lib/volc/client.ts';
import { VolcClient as RealVolcClient } from '../lib/volc/client.ts';
import { TokenBucket } from '../lib/volc/rate-limiter.ts';
import type { SegmentTask } from '../lib/volc/schemas.ts';
import { VolcEmulator } from '../test/emulator/volc-emulator.ts';
import { S3TestServer } from '../test/s3/s3-server.ts';
import { MemoryObjectStore } from './support/memory-store.ts';

const CREDENTIALS = { accessKeyId: 'AKLTBENCHARCHIVER', secretAccessKey: 'bench-archiver-secret' };
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0);

async function withStack<T>(emulatorOptions: { qpsLimit: number }, work: (emulator: VolcEmulator, s3: S3TestServer) => Promise<T>): Promise<T> {
  const emulator = new VolcEmulator({ credentials: [CREDENTIALS], qpsLimits: { GetSegmentTask: emulatorOptions.qpsLimit } });
  await emulator.start();
  const s3 = new S3TestServer();
  await s3.start();
  process.env.AWS_ACCESS_KEY_ID ??= 'bench';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
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
  for (const [i, id] of ids.entries()) emulator.seedTask({ appId: 'bench-app', roomId: `room-${i % 100}`, taskId: id, startTime: start - (i % 3600) * 1000 });
  for (let i = 0; i < ids.length; i += 256) {
    await Promise.all(
      ids.slice(i, i + 256).map((id, j) => {
        const n = i + j;
        const address = { appId: 'bench-app', roomId: `room-${n % 100}`, taskId: id };
        return store.putJson(keys.registryEntry(start - (n % 3600) * 1000 + WINDOW_MS, address, false), {});
      }),
    );
  }
}

/** One run against the strict emulator: how much of the archiver's budget it turns into calls. */
export async function benchQpsUse(figures: Record<string, number>): Promise<void> {
  const budget = 50;
  const tasks = Number(process.env.BENCH_QPS_TASKS ?? 1500);
  await withStack({ qpsLimit: 60 }, async (emulator, s3) => {
    const store = new ObjectStore({ bucket: s3.bucket, endpoint: s3.url, region: 'us-east-1', forcePathStyle: true });
    const keys = new ArchiveKeys('');
    await seedWatched(emulator, store, keys, tasks);
    emulator.inject({ kind: 'latency', latencyMs: 40 }); // a realistic round trip to Volcengine
    const client = new RealVolcClient({
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
      client,
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
    console.log(`archiver: ${round(calls / seconds, 1)} calls/s against a ${budget}/s budget (×${figures.archiver_qps_use}, goal ≥ 0.95), ${figures.archiver_throttles} throttled (goal 0), ${summary.tasksPolled} tasks`);
  });
}

/** One pass over many watched tasks, the archiver in a child process: its peak RSS and the LIST calls. */
export async function benchPass(figures: Record<string, number>): Promise<void> {
  const count = Number(process.env.BENCH_WATCHED ?? 100_000);
  await withStack({ qpsLimit: Number.MAX_SAFE_INTEGER }, async (emulator, s3) => {
    const store = new ObjectStore({ bucket: s3.bucket, endpoint: s3.url, region: 'us-east-1', forcePathStyle: true });
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
      `pass: ${result.tasksPolled} of ${count} tasks in ${round(result.seconds, 1)} s; peak RSS ${figures.pass_peak_rss_mib} MiB (goal ≤ 256); ` +
        `${figures.pass_list_calls} LIST calls (goal ≤ ${figures.pass_list_calls_limit})`,
    );
  });
}

interface SimTask {
  appId: string;
  roomId: string;
  taskId: string;
  start: number;
  /** Undefined: still running when its window closes. */
  end: number | undefined;
  updateAt: number | undefined;
}

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Arrivals are Poisson; lengths: 70 % short (log-normal, median 20 min), 25 % medium
 * (median 3 h), 5 % long (60-100 h, so still running when the 72-hour window closes);
 * 30 % get one UpdateSegment. The archiver runs every 5 minutes with 240 s of usable time at
 * `qps` calls per second, so its capacity is 240 × qps polls per run.
 */
export async function simulate(figures: Record<string, number>, label: string, arrivalsPerHour: number, qps: number): Promise<void> {
  const days = 7;
  const rand = random(42 + arrivalsPerHour);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const tasks: SimTask[] = [];
  let t = 0;
  while (t < days * 86_400_000) {
    t += (-Math.log(1 - rand()) / arrivalsPerHour) * 3_600_000;
    const kind = rand();
    const length =
      kind < 0.7 ? 20 * 60_000 * Math.exp(0.8 * normal()) : kind < 0.95 ? 3 * 3_600_000 * Math.exp(0.8 * normal()) : (60 + 40 * rand()) * 3_600_000;
    const start = Math.round(t);
    const id = tasks.length;
    tasks.push({
      appId: 'sim-app',
      roomId: `room-${id % 50}`,
      taskId: `t${id}`,
      start,
      end: length < WINDOW_MS ? start + Math.round(length) : undefined,
      updateAt: rand() < 0.3 ? start + Math.round(length * rand()) : undefined,
    });
  }
  const byId = new Map(tasks.map((task) => [`${task.roomId}/${task.taskId}`, task]));
  const stateAt = (task: SimTask, now: number): SegmentTask => {
    const ended = task.end !== undefined && now >= task.end;
    return { StartTime: task.start, EndTime: ended ? task.end! : 0, Status: ended ? 3 : 2, StopReason: ended ? 'IdleTimeOut' : '', Duration: task.updateAt !== undefined && now >= task.updateAt ? 30 : 20 };
  };

  let now = 0;
  const store = new MemoryObjectStore();
  const keys = new ArchiveKeys('');
  const registry = new WatchRegistry(store, keys);
  const archive = new SegmentArchive(store, keys);
  const pollMs = 1000 / qps;
  const client = {
    async getSegmentTask(_version: string, address: { roomId: string; taskId: string }) {
      now += pollMs;
      const task = byId.get(`${address.roomId}/${address.taskId}`);
      if (!task || now < task.start || now - task.start > WINDOW_MS) return { task: undefined, requestId: undefined, attempts: 1 };
      return { task: stateAt(task, now), requestId: undefined, attempts: 1 };
    },
  } as unknown as VolcClient;

  const registrationDelay = 60_000;
  let next = 0;
  const end = days * 86_400_000 + WINDOW_MS + 3_600_000;
  let runs = 0;
  let polls = 0;
  let peakWatched = 0;
  let watchedSum = 0;
  for (let runAt = 0; runAt < end; runAt += 5 * 60_000) {
    now = runAt;
    while (next < tasks.length && tasks[next]!.start + registrationDelay <= now) {
      const task = tasks[next++]!;
      await registry.register(task, task.start, 'callback', now);
    }
    const watched = store.countPrefix('watch/');
    peakWatched = Math.max(peakWatched, watched);
    watchedSum += watched;
    const runStart = now;
    const summary = await runArchiver({
      registry,
      archive,
      client,
      version: '2023-11-01',
      now: () => now,
      finalMarginMs: 30 * 60_000,
      callTimeoutMs: 5_000,
      concurrency: 1,
      timeLeftMs: () => 240_000 - (now - runStart),
      safetyMs: pollMs,
      unknownRetryMs: 15 * 60_000,
    });
    polls += summary.tasksPolled;
    runs++;
  }

  // What the archive holds, task by task.
  let lost = 0;
  const lags: number[] = [];
  let changesMissed = 0;
  for (const task of tasks) {
    const address = { appId: task.appId, roomId: task.roomId, taskId: task.taskId };
    const latest = await archive.latest(address);
    const deadline = task.start + WINDOW_MS;
    const finalInTime = latest?.Final === true && Date.parse(latest.CapturedAt) <= deadline;
    if (!finalInTime) lost++;
    const timeline = await archive.timeline(address);
    const changes = [task.updateAt, task.end].filter((c): c is number => c !== undefined && c <= deadline);
    for (const change of changes) {
      const captured = timeline.find((s) => Date.parse(s.CapturedAt) >= change);
      if (captured) lags.push(Date.parse(captured.CapturedAt) - change);
      else changesMissed++;
    }
  }
  lags.sort((a, b) => a - b);
  const capacityPerRun = Math.floor(240 * qps);
  const prefix = `sim_${label}`;
  figures[`${prefix}_tasks`] = tasks.length;
  figures[`${prefix}_load_vs_capacity`] = round(watchedSum / runs / capacityPerRun, 2);
  figures[`${prefix}_polls_per_run`] = round(polls / runs, 1);
  figures[`${prefix}_peak_watched`] = peakWatched;
  figures[`${prefix}_final_lost`] = lost;
  figures[`${prefix}_changes_missed`] = changesMissed;
  figures[`${prefix}_lag_p50_s`] = round(percentile(lags, 0.5) / 1000, 1);
  figures[`${prefix}_lag_p95_s`] = round(percentile(lags, 0.95) / 1000, 1);
  figures[`${prefix}_lag_p99_s`] = round(percentile(lags, 0.99) / 1000, 1);
  figures[`${prefix}_lag_max_s`] = round((lags.at(-1) ?? 0) / 1000, 1);
  console.log(
    `simulation ${label}: ${tasks.length} tasks over ${days} days, capacity ${capacityPerRun} polls/run, peak ${peakWatched} watched; ` +
      `final snapshots lost ${lost}; state changes missed ${changesMissed}; archive lag p50 ${figures[`${prefix}_lag_p50_s`]} s, ` +
      `p95 ${figures[`${prefix}_lag_p95_s`]} s, p99 ${figures[`${prefix}_lag_p99_s`]} s, max ${figures[`${prefix}_lag_max_s`]} s`,
  );
}
