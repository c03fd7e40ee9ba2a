/**
 * One account, one budget: 16 lookup instances (4 processes of 4 separately built handlers, each
 * one request at a time) and the archiver share the strict emulator's 60 GetSegmentTask calls per
 * sliding second through the quota table (dynalite).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynaliteProcess } from '../dynamodb/dynalite-process.ts';
import { EmulatorProcess } from '../emulator/emulator-process.ts';
import { archiverUpstream, lookupInstances, runArchiverOn, seedClosingTasks, seedLiveTasks, startTogether } from '../quota/fleet.ts';
import { startArchiveStack, type ArchiveStack } from '../support/archive-stack.ts';
import { TEST_CREDENTIALS } from '../support/credentials.ts';

const PROCESSES = 4;
const INSTANCES_PER_PROCESS = 4;
const LOOKUP_MS = 10_000;
const NEAR_DEADLINE = 100;
/**
 * Settings for this machine, not Lambda's (deployed defaults: 20 ms late, 80 ms of network, 200 ms
 * per table call). 16 instances in 4 processes on 2 cores, beside the archiver, dynalite, the
 * emulator and whatever else runs, leave on time less often than a Lambda instance: 25 ms late.
 * The network is loopback, where only the emulator's own scheduling spreads arrivals: 20 ms. And
 * dynalite, one busy process here, answers far slower than DynamoDB: 1 s before a table call
 * counts as failed (the fallback's calls come on top of the shared quota's).
 */
const QUOTA = { QUOTA_LATE_MS: 25, QUOTA_NETWORK_MS: 20, QUOTA_TIMEOUT_MS: 1_000 };
let emulator: EmulatorProcess;
let dynalite: DynaliteProcess;
let archive: ArchiveStack;

beforeAll(async () => {
  // 60 GetSegmentTask per sliding second, on the real clock, in a process of its own: when calls
  // arrive is not delayed by this process's work (the archiver, the S3 server).
  emulator = new EmulatorProcess({ credentials: [TEST_CREDENTIALS] });
  await emulator.start();
  dynalite = new DynaliteProcess();
  await dynalite.start();
  archive = await startArchiveStack('quota/');
});
afterAll(async () => {
  await emulator.stop();
  await dynalite.stop();
  await archive.stop();
});

describe('the account quota shared by the fleet', () => {
  it('keeps 16 lookup instances and the archiver within 60 calls a sliding second, uses the quota, serves deadline polls', async () => {
    // Prepare: running tasks for lookups, and tasks minutes before their window closes for the archiver.
    const lookupTasks = await seedLiveTasks(emulator, 200);
    await seedClosingTasks(emulator, archive.registry, NEAR_DEADLINE);
    const upstream = archiverUpstream(emulator.url, dynalite.url, QUOTA);
    // Act: the lookups saturate the account; the archiver runs in the middle of it.
    const processes = Array.from({ length: PROCESSES }, () =>
      lookupInstances({
        emulatorUrl: emulator.url,
        dynamodbUrl: dynalite.url,
        tasks: lookupTasks,
        durationMs: LOOKUP_MS,
        instances: INSTANCES_PER_PROCESS,
        env: {
          LOOKUP_DEADLINE_MS: '2000',
          QUOTA_WARM_MS: '3000',
          ...Object.fromEntries(Object.entries(QUOTA).map(([name, value]) => [name, String(value)])),
        },
      }),
    );
    // Measured from when every instance is loaded and has served for 3 s (a fleet at this load is warm), however long loading takes here.
    const started = await startTogether(processes);
    const instances = Promise.all(processes.map((p) => p.result));
    await new Promise((resolve) => setTimeout(resolve, started + 1_000 - Date.now()));
    const archiverStarted = Date.now();
    const summary = await runArchiverOn(archive, upstream, () => Number.POSITIVE_INFINITY);
    const archiverEnded = Date.now();
    const results = await instances;
    // Assess
    const calls = (await emulator.received()).filter((c) => c.at >= started);
    for (const c of calls.filter((x) => x.code === 'FlowLimitExceeded.QPSOverLimit')) {
      const around = calls.filter((x) => x.at > c.at - 1000 && x.at <= c.at);
      console.log(
        'throttled at',
        c.at - started,
        'window',
        around.length,
        JSON.stringify(around.map((x) => [x.at - started, x.query.RoomId === 'closing' ? 'A' : 'L'])),
      );
    }
    // While both the lookups and the archiver want more than their shares, the account is used.
    const [from, to] = [archiverStarted + 500, Math.min(archiverEnded, started + LOOKUP_MS) - 500];
    const used = calls.filter((c) => c.at >= from && c.at < to).length / ((to - from) / 1000) / 60;
    const statuses = results.reduce<Record<string, number>>((all, r) => {
      for (const [status, count] of Object.entries(r.statuses)) all[status] = (all[status] ?? 0) + count;
      return all;
    }, {});
    const perSecond = Array.from(
      { length: Math.ceil(LOOKUP_MS / 1000) },
      (_, i) => calls.filter((c) => c.at >= started + i * 1000 && c.at < started + (i + 1) * 1000).length,
    );
    console.log(
      JSON.stringify({
        quota_used: Math.round(used * 1000) / 1000,
        calls_per_second: perSecond,
        lookup_statuses: statuses,
        lookup_slots_missed: results.reduce((sum, r) => sum + (r.quota.slotsMissed ?? 0), 0),
        lookup_fallbacks: results.reduce((sum, r) => sum + (r.quota.fallbacks ?? 0), 0),
        archiver_polled: summary.tasksPolled,
      }),
    );
    expect(calls.filter((c) => c.code === 'FlowLimitExceeded.QPSOverLimit')).toHaveLength(0);
    expect(used).toBeGreaterThanOrEqual(0.9);
    expect(summary).toMatchObject({
      tasksPolled: NEAR_DEADLINE,
      throttled: 0,
      errors: 0,
      snapshotsWritten: NEAR_DEADLINE,
      finalSnapshotsMissed: 0,
    });
    expect(statuses['429']).toBeGreaterThan(0); // offered load exceeds the lookup share: callers are told to come back
    expect(Object.keys(statuses).every((s) => s === '200' || s === '429')).toBe(true);
    expect(results.every((r) => r.retryAfterMissing === 0)).toBe(true);
  }, 90_000);
});
