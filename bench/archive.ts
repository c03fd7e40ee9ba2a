/**
 * Archiver benchmarks and simulation (part of `npm run bench`).
 *
 *   archiver_qps_use      upstream calls/s of one run against the strict emulator (60/s per
 *                         account), as a fraction of the archiver's QPS budget; and its throttles
 *   pass_*                over BENCH_WATCHED (100,000) watched runs in the registry (dynalite, in
 *                         its own process): the DynamoDB requests and capacity of one Lambda-sized
 *                         run (BENCH_RUN_POLLS, 3,120 polls: 12/s for 260 s), then of a pass that
 *                         polls them all, with its peak RSS; the archiver runs in its own process
 *   sim_*                 the capacity simulation (npm run simulate) on generated scenarios: TaskId
 *                         reuse, 3,000 ghosts, registration before the start, load above capacity
 */
import { spawn } from 'node:child_process';
import { openArchive } from '../lib/archive/access.ts';
import { buildArchiver } from '../lib/archive/build.ts';
import { DynamoDbRegistry } from '../lib/archive/dynamodb-registry.ts';
import { archiverSettings } from '../lib/config.ts';
import { ScenarioSchema } from '../simulation/scenario.ts';
import { simulate } from '../simulation/simulate.ts';
import { TokenBucket } from '../lib/volc/client.ts';
import { DynaliteProcess } from '../test/dynamodb/dynalite-process.ts';
import { REGISTRY_TABLE } from '../test/dynamodb/dynalite-server.ts';
import { VolcEmulator } from '../test/emulator/volc-emulator.ts';
import { S3TestServer } from '../test/s3/s3-server.ts';
import {
  aboveCapacity,
  appsReusingTaskIds,
  capacity,
  ghosts,
  registrationBeforeStart,
  taskIdReuse,
  withFaults,
  type ScenarioInput,
} from '../test/support/scenarios.ts';

const CREDENTIALS = { accessKeyId: 'AKLTBENCHARCHIVER', secretAccessKey: 'bench-archiver-secret' };
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

interface Stack {
  emulator: VolcEmulator;
  s3: S3TestServer;
  dynamodb: DynaliteProcess;
  registry: DynamoDbRegistry;
}

async function withStack<T>(emulatorOptions: { qpsLimit: number }, work: (stack: Stack) => Promise<T>): Promise<T> {
  const emulator = new VolcEmulator({ credentials: [CREDENTIALS], qpsLimits: { GetSegmentTask: emulatorOptions.qpsLimit } });
  const s3 = new S3TestServer();
  const dynamodb = new DynaliteProcess();
  await Promise.all([emulator.start(), s3.start(), dynamodb.start()]);
  const registry = new DynamoDbRegistry({ table: REGISTRY_TABLE, endpoint: dynamodb.url, region: 'us-east-1' });
  try {
    return await work({ emulator, s3, dynamodb, registry });
  } finally {
    await Promise.all([emulator.stop(), s3.stop(), dynamodb.stop()]);
  }
}

/** `count` running tasks, each watched as a known run (as a lookup registers it), 64 registrations at a time. */
async function seedWatched(stack: Stack, count: number): Promise<void> {
  const start = Date.now();
  const ids = Array.from({ length: count }, (_, i) => `task-${String(i).padStart(6, '0')}`);
  const addresses = ids.map((id, i) => ({
    appId: 'bench-app',
    roomId: `room-${i % 100}`,
    taskId: id,
    startTime: start - (i % 3600) * 1000,
  }));
  for (const address of addresses) stack.emulator.seedTask({ ...address, maxIdleTime: 86_400 });
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < addresses.length) {
        const { startTime, ...address } = addresses[next++]!;
        await stack.registry.registerRun(address, startTime, 'lookup', start);
      }
    }),
  );
}

/** One run against the strict emulator: how much of the archiver's budget it turns into calls. */
export async function benchQpsUse(figures: Record<string, number>): Promise<void> {
  const budget = 50;
  const tasks = Number(process.env.BENCH_QPS_TASKS ?? 1500);
  await withStack({ qpsLimit: 60 }, async (stack) => {
    const { emulator, s3, registry } = stack;
    await seedWatched(stack, tasks);
    emulator.inject({ kind: 'latency', latencyMs: 40 }); // a realistic round trip to Volcengine
    const settings = archiverSettings({
      VOLC_ENDPOINT: emulator.url,
      VOLC_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      VOLC_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      VOLC_RETRY_MAX_MS: '1000',
      ARCHIVE_BUCKET: s3.bucket,
      S3_ENDPOINT: s3.url,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      REGISTRY_TABLE,
      AWS_REGION: 'us-east-1',
      ARCHIVE_CONCURRENCY: '16',
    });
    // The archiver's calls paced at the budget measured against; the registry the stack's (seeded above).
    const { run } = buildArchiver(settings, {
      limiter: new TokenBucket({ ratePerSecond: budget, burst: 5 }),
      access: { archive: openArchive(settings.storage).archive, registry },
    });
    const before = emulator.received.length;
    const started = performance.now();
    const summary = await run({ tick: Date.now(), owner: 'bench-qps', timeLeftMs: () => Number.POSITIVE_INFINITY, safetyMs: 0 });
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

interface PassResult {
  maxRssMiB: number;
  tasksPolled: number;
  errors: number;
  seconds: number;
  usage: { reads: number; writes: number; readUnits: number; writeUnits: number };
}

/** One archiver run in a child process over the stack (its RSS is its own), at most `polls` polls. */
async function passInChild(stack: Stack, polls: number | undefined): Promise<PassResult> {
  // A 256 MB Lambda gives V8 a heap of about this size; without a limit V8 grows lazily and RSS says little.
  const child = spawn(process.execPath, ['--max-old-space-size=160', '--import', 'tsx', 'bench/archive-pass.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      BENCH_EMULATOR: stack.emulator.url,
      BENCH_S3: stack.s3.url,
      BENCH_BUCKET: stack.s3.bucket,
      BENCH_DYNAMODB: stack.dynamodb.url,
      ...(polls === undefined ? {} : { BENCH_POLLS: String(polls) }),
    },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  await new Promise((resolve) => child.on('exit', resolve));
  return JSON.parse(/RESULT (.*)/.exec(output)![1]!) as PassResult;
}

/** The registry at BENCH_WATCHED watched runs: one Lambda-sized run's DynamoDB use, then a pass over all (the archiver in a child). */
export async function benchPass(figures: Record<string, number>): Promise<void> {
  const count = Number(process.env.BENCH_WATCHED ?? 100_000);
  const runPolls = Number(process.env.BENCH_RUN_POLLS ?? 3_120);
  await withStack({ qpsLimit: Number.MAX_SAFE_INTEGER }, async (stack) => {
    const seeding = performance.now();
    await seedWatched(stack, count);
    console.log(`pass: seeded ${count} watched runs in ${round((performance.now() - seeding) / 1000, 1)} s`);
    const run = await passInChild(stack, runPolls);
    figures.pass_watched = count;
    figures.run_polls = run.tasksPolled;
    figures.run_registry_reads = run.usage.reads;
    figures.run_registry_writes = run.usage.writes;
    figures.run_registry_read_units = round(run.usage.readUnits, 1);
    figures.run_registry_write_units = round(run.usage.writeUnits, 1);
    console.log(
      `run at ${count} watched: ${run.tasksPolled} polls; DynamoDB ${run.usage.reads} reads (${figures.run_registry_read_units} RCU), ` +
        `${run.usage.writes} writes (${figures.run_registry_write_units} WCU) — per poll ` +
        `${round(run.usage.readUnits / run.tasksPolled, 3)} RCU, ${round(run.usage.writeUnits / run.tasksPolled, 3)} WCU`,
    );
    // BENCH_FULL_PASS=0 stops after the one run (the full pass takes about 25 minutes at 100,000).
    if (process.env.BENCH_FULL_PASS === '0') return;
    const pass = await passInChild(stack, undefined);
    figures.pass_tasks_polled = pass.tasksPolled;
    figures.pass_peak_rss_mib = round(pass.maxRssMiB, 1);
    figures.pass_registry_reads = pass.usage.reads;
    figures.pass_registry_writes = pass.usage.writes;
    console.log(
      `pass: ${pass.tasksPolled} of ${count} runs in ${round(pass.seconds, 1)} s; ` +
        `peak RSS ${figures.pass_peak_rss_mib} MiB (goal ≤ 256); ` +
        `DynamoDB ${pass.usage.reads} reads, ${pass.usage.writes} writes; ${pass.errors} errors`,
    );
  });
}

/**
 * The capacity simulation (simulation/, as `npm run simulate` runs it) on generated scenarios:
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

/** The issue's capacity shape: ~44,000 runs over 12 h (~3,667 an hour, mean 60 min, ~3,700 at once), account quota 8/s, ARCHIVE_QPS 6. */
const BASE_RUNS_PER_HOUR = 3_667;
/** That shape over 12 h (3 h more to drain): the capacity bench's base case, and the refresh-floor bench's. */
const baseShape = () => capacity({ runsPerHour: BASE_RUNS_PER_HOUR, hours: 12 });

/**
 * The poll policy at and beyond the account's capacity (`npm run bench -- capacity`): the base
 * shape; ten times its arrivals for 4 h (3 h more to drain); three times its arrivals for 8 h,
 * simulated to 80 h so that every run's window closes.
 */
export async function simulateCapacity(figures: Record<string, number>): Promise<void> {
  const cases: Array<[string, ScenarioInput]> = [
    ['base', baseShape()],
    ['x10_4h', capacity({ runsPerHour: 10 * BASE_RUNS_PER_HOUR, hours: 4 })],
    ['x3_to_80h', capacity({ runsPerHour: 3 * BASE_RUNS_PER_HOUR, hours: 8, tailHours: 72 })],
  ];
  for (const [label, input] of cases) {
    const result = await simulate(ScenarioSchema.parse(input));
    const s = result.summary;
    const prefix = `capacity_${label}`;
    Object.assign(figures, {
      [`${prefix}_runs`]: s.runsInScenario,
      [`${prefix}_first_capture_p95_min`]: s.firstCaptureP95Minutes,
      [`${prefix}_end_capture_p95_min`]: s.endCaptureP95Minutes,
      [`${prefix}_calls_per_run`]: s.archiverCallsPerRun,
      [`${prefix}_calls_per_run_steady`]: s.archiverCallsPerRunSteady ?? Number.NaN,
      [`${prefix}_throttled`]: s.upstreamThrottled,
      [`${prefix}_lost`]: s.runsLost,
      [`${prefix}_end_missed`]: s.runsEndMissed,
      [`${prefix}_final_missed`]: result.finalSnapshotsMissed,
      [`${prefix}_most_first_not_reached`]: s.mostDueNotReached.first,
      [`${prefix}_wall_s`]: s.wallSeconds,
    });
    console.log(
      `capacity ${label}: ${s.runsInScenario} runs over ${input.hours} h in ${s.wallSeconds} s; first capture p95 ` +
        `${s.firstCaptureP95Minutes} min, end capture p95 ${s.endCaptureP95Minutes} min, ${s.archiverCallsPerRun} calls per run ` +
        `(${s.archiverCallsPerRunSteady} at a steady load), ` +
        `${s.upstreamThrottled} throttled; refresh interval p50 ${s.refreshIntervalMinutes.p50} / ` +
        `max ${s.refreshIntervalMinutes.max} min; ` +
        `${s.archiverRunsStoppedEarly} archiver runs stopped early, most left due ${JSON.stringify(s.mostDueNotReached)}; ` +
        `lost ${s.runsLost}, end missed ${s.runsEndMissed}, not settled ${s.runsDiscoveredNotSettled}, ` +
        `final snapshots missed ${result.finalSnapshotsMissed}`,
    );
  }
}

/**
 * What the refresh minimum buys (`npm run bench -- refresh-floor`): the capacity shape's archiver
 * calls per run, and the ends lost by apps that reuse TaskIds for the first time (30 apps × 4
 * users × 4 runs, 11–19-minute gaps; without and with the issue's faults), under the defaults and
 * the two ways of asking running runs less often: a 10-minute minimum for every app, and 15-minute
 * spacing for the runs of apps not seen reusing TaskIds.
 */
export async function simulateRefreshFloor(figures: Record<string, number>): Promise<void> {
  const settings: Array<[string, Record<string, string>]> = [
    ['default', {}],
    ['refresh_10min', { ARCHIVE_REFRESH_MS: '600000' }],
    ['no_reuse_15min', { ARCHIVE_NO_REUSE_REFRESH_MS: '900000' }],
  ];
  // The same scenarios under each setting.
  const shape = baseShape();
  const reusing = appsReusingTaskIds(30, 4, 4);
  const reusingFaulted = withFaults(reusing);
  for (const [label, env] of settings) {
    const run = async (input: ScenarioInput) => (await simulate(ScenarioSchema.parse({ ...input, env: { ...input.env, ...env } }))).summary;
    const base = await run(shape);
    const apps = await run(reusing);
    const faulted = await run(reusingFaulted);
    const prefix = `refresh_floor_${label}`;
    Object.assign(figures, {
      [`${prefix}_calls_per_run`]: base.archiverCallsPerRun,
      [`${prefix}_end_capture_p95_min`]: base.endCaptureP95Minutes,
      [`${prefix}_reuse_end_missed`]: apps.runsEndMissed,
      [`${prefix}_reuse_faults_end_missed`]: faulted.runsEndMissed,
    });
    console.log(
      `refresh floor ${label}: capacity shape ${base.archiverCallsPerRun} calls per run (end capture p95 ` +
        `${base.endCaptureP95Minutes} min); apps reusing TaskIds: ends missed ${apps.runsEndMissed} of ${apps.runsInScenario}, ` +
        `${faulted.runsEndMissed} with the issue's faults`,
    );
  }
}
