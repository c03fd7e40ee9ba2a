/**
 * The shared GetSegmentTask quota (part of `npm run bench`, section `quota`):
 *
 *   quota_useful_fraction   useful upstream calls/s as a fraction of the account's 60/s, with 6
 *                           lookup instances (separate processes) offered 2.5× the quota and the
 *                           archiver busy, against the strict emulator (goal ≥ 0.95)
 *   quota_throttles         FlowLimitExceeded.QPSOverLimit answers (goal 0)
 *   quota_busiest_second    most calls in any sliding second (goal ≤ 60)
 *   quota_writes_per_call   DynamoDB writes (UpdateItem) per upstream call (goal ≤ 1)
 *   quota_added_p50/p99_ms  time a call spends taking its slot (table round trips, not the wait
 *                           for the slot) against dynalite on loopback — a local figure: add
 *                           DynamoDB's own latency (single-digit ms in-region) when deployed
 */
import { FleetLimiter } from '../lib/quota/fleet-limiter.ts';
import { DynamoDbQuotaStore } from '../lib/quota/quota-store.ts';
import { TokenBucket } from '../lib/volc/rate-limiter.ts';
import { QUOTA_TABLE } from '../test/dynamodb/dynalite-server.ts';
import { DynaliteProcess } from '../test/dynamodb/dynalite-process.ts';
import { EmulatorProcess } from '../test/emulator/emulator-process.ts';
import { archiverUpstream, lookupInstances, runArchiverOn, seedClosingTasks, seedLiveTasks } from '../test/quota/fleet.ts';
import { startArchiveStack } from '../test/support/archive-stack.ts';
import { TEST_CREDENTIALS } from '../test/support/credentials.ts';

const INSTANCES = 6;
const OFFERED_PER_INSTANCE = 25; // 6 × 25 = 150/s = 2.5 × 60
const DURATION_MS = 20_000;
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

function busiestSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! >= 1000) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

/** The time a caller spends taking a slot (table round trips), at a steady 20 calls/s. */
async function addedLatency(dynalite: DynaliteProcess): Promise<number[]> {
  const limiter = new FleetLimiter({
    store: new DynamoDbQuotaStore(QUOTA_TABLE, { endpoint: dynalite.url, region: 'us-east-1' }),
    role: 'lookup',
    shares: { accountQps: 60, archiveQps: 12 },
    storeTimeoutMs: 1_000,
    fallback: new TokenBucket({ ratePerSecond: 2, burst: 1 }),
  });
  const added: number[] = [];
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    const wait = await limiter.reserve(1_000);
    added.push(performance.now() - started - wait);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return added.sort((a, b) => a - b);
}

export async function benchQuota(figures: Record<string, number>): Promise<void> {
  // Each peer in its own process: the emulator's clock of arrivals is not delayed by the archiver's work.
  const emulator = new EmulatorProcess({ credentials: [TEST_CREDENTIALS] });
  await emulator.start();
  const dynalite = new DynaliteProcess();
  await dynalite.start();
  const archive = await startArchiveStack('bench-quota/');
  try {
    const tasks = await seedLiveTasks(emulator, 300);
    await seedClosingTasks(emulator, archive.registry, 400);
    const upstream = archiverUpstream(emulator.url, dynalite.url);
    const start = Date.now() + 5_000;
    const writesBefore = (await dynalite.counts()).UpdateItem ?? 0;
    const instances = Promise.all(
      Array.from({ length: INSTANCES }, () =>
        lookupInstances({
          emulatorUrl: emulator.url,
          dynamodbUrl: dynalite.url,
          tasks,
          start,
          durationMs: DURATION_MS,
          instances: 1,
          rate: OFFERED_PER_INSTANCE,
        }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, start - Date.now()));
    const deadline = start + DURATION_MS;
    const archiving = runArchiverOn(archive, upstream, () => deadline - Date.now());
    const [results] = await Promise.all([instances, archiving]);
    await new Promise((resolve) => setTimeout(resolve, 500)); // calls of slots granted just before the end
    const calls = (await emulator.received()).filter((c) => c.at >= start);
    const steady = calls.filter((c) => c.at >= start + 1_000 && c.at < deadline - 1_000);
    const useful = steady.filter((c) => c.status === 200).length / ((DURATION_MS - 2_000) / 1000);
    const counts = await dynalite.counts();
    const writes = (counts.UpdateItem ?? 0) - writesBefore;
    const added = await addedLatency(dynalite);
    const lookupStatuses = results.reduce<Record<string, number>>((all, r) => {
      for (const [status, count] of Object.entries(r.statuses)) all[status] = (all[status] ?? 0) + count;
      return all;
    }, {});
    figures.quota_useful_fraction = round(useful / 60);
    figures.quota_throttles = calls.filter((c) => c.code === 'FlowLimitExceeded.QPSOverLimit').length;
    figures.quota_busiest_second = busiestSecond(calls.map((c) => c.at));
    figures.quota_writes_per_call = round(writes / calls.length);
    figures.quota_added_p50_ms = round(percentile(added, 0.5), 2);
    figures.quota_added_p99_ms = round(percentile(added, 0.99), 2);
    console.log(
      `quota: ${round(useful, 1)} useful calls/s = ×${figures.quota_useful_fraction} of 60 (goal ≥ 0.95) ` +
        `at 2.5× offered load from ${INSTANCES} instances + the archiver; ` +
        `${figures.quota_throttles} throttles (goal 0); busiest second ${figures.quota_busiest_second} (goal ≤ 60); ` +
        `${figures.quota_writes_per_call} DynamoDB writes per call (goal ≤ 1); ` +
        `added latency p50 ${figures.quota_added_p50_ms} ms / p99 ${figures.quota_added_p99_ms} ms against dynalite on loopback (local); ` +
        `lookups answered ${JSON.stringify(lookupStatuses)}; ` +
        `table requests ${JSON.stringify(counts)}`,
    );
    console.log(
      JSON.stringify({
        useful_fraction: figures.quota_useful_fraction,
        throttles: figures.quota_throttles,
        busiest_second: figures.quota_busiest_second,
        added_latency_ms: { p50: figures.quota_added_p50_ms, p99: figures.quota_added_p99_ms, against: 'dynalite on loopback (local)' },
        dynamodb_writes_per_call: figures.quota_writes_per_call,
      }),
    );
  } finally {
    await emulator.stop();
    await dynalite.stop();
    await archive.stop();
  }
}
