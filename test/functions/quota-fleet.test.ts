/**
 * One account, one budget: 16 lookup instances (4 processes of 4 separately built handlers, each
 * one request at a time) and the archiver share the strict emulator's 60 GetSegmentTask calls per
 * sliding second through the quota table (dynalite).
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runArchiver } from '../../lib/archive/archiver.ts';
import { FleetLimiter } from '../../lib/quota/fleet-limiter.ts';
import { DynamoDbQuotaStore } from '../../lib/quota/quota-store.ts';
import { WINDOW_MS } from '../../lib/task.ts';
import { VolcClient } from '../../lib/volc/client.ts';
import { TokenBucket } from '../../lib/volc/rate-limiter.ts';
import { QUOTA_TABLE } from '../dynamodb/dynalite-server.ts';
import { DynaliteProcess } from '../dynamodb/dynalite-process.ts';
import { EmulatorProcess } from '../emulator/emulator-process.ts';
import { startArchiveStack, type ArchiveStack } from '../support/archive-stack.ts';
import { TEST_CREDENTIALS } from '../support/credentials.ts';

const PROCESSES = 4;
const INSTANCES_PER_PROCESS = 4;
const LOOKUP_MS = 10_000;
const NEAR_DEADLINE = 100;
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

function lookupInstance(tasks: string[], start: number): Promise<{ statuses: Record<string, number>; retryAfterMissing: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/quota/lookup-instance.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      VOLC_ENDPOINT: emulator.url,
      VOLC_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      VOLC_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      QUOTA_TABLE,
      DYNAMODB_ENDPOINT: dynalite.url,
      ARCHIVE_QPS: '12',
      LOOKUP_DEADLINE_MS: '2000',
      LOOKUP_TERMINAL_TTL_MS: '0',
      QUOTA_TEST_TASKS: tasks.join(','),
      QUOTA_TEST_MS: String(LOOKUP_MS),
      QUOTA_TEST_START: String(start),
      QUOTA_TEST_INSTANCES: String(INSTANCES_PER_PROCESS),
    },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(/RESULT (.*)/.exec(output)![1]!)) : reject(new Error(`lookup instance exited ${code}`)))),
  );
}

describe('the account quota shared by the fleet', () => {
  it('keeps lookups from 16 instances and the archiver within 60 calls per sliding second, uses the quota, and serves every deadline poll', async () => {
    // Prepare: running tasks for lookups, and tasks minutes before their window closes for the archiver.
    const now = Date.now();
    const lookupTasks = (await emulator.seed(Array.from({ length: 200 }, (_, i) => ({ appId: 'quota-app', roomId: 'room', taskId: `live-${i}` })))).map((t) => t.taskId);
    const nearStart = now - WINDOW_MS + 20 * 60_000;
    const closing = Array.from({ length: NEAR_DEADLINE }, (_, i) => ({ appId: 'quota-app', roomId: 'closing', taskId: `closing-${i}` }));
    await emulator.seed(closing.map((address) => ({ ...address, startTime: nearStart, maxIdleTime: 86_400 })));
    for (const address of closing) await archive.registry.register(address, nearStart, 'lookup', now);
    const archiverLimiter = new FleetLimiter({
      store: new DynamoDbQuotaStore(QUOTA_TABLE, { endpoint: dynalite.url, region: 'us-east-1' }),
      role: 'archiver',
      shares: { accountQps: 60, archiveQps: 12 },
      storeTimeoutMs: 500,
      leaseSlots: 3,
      fallback: new TokenBucket({ ratePerSecond: 2, burst: 1 }),
    });
    const upstream = new VolcClient({ endpoint: emulator.url, region: 'cn-north-1', service: 'rtc', credentials: () => TEST_CREDENTIALS, limiter: archiverLimiter, retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 200 } });
    // Act: the lookups saturate the account; the archiver runs in the middle of it.
    const started = Date.now() + 4_000; // after the instances have loaded
    const instances = Promise.all(Array.from({ length: PROCESSES }, () => lookupInstance(lookupTasks, started)));
    await new Promise((resolve) => setTimeout(resolve, started + 1_000 - Date.now()));
    const archiverStarted = Date.now();
    const summary = await runArchiver({
      registry: archive.registry,
      archive: archive.archive,
      upstream,
      version: '2023-11-01',
      now: Date.now,
      finalMarginMs: 30 * 60_000,
      callTimeoutMs: 5_000,
      concurrency: 8,
      timeLeftMs: () => Number.POSITIVE_INFINITY,
      safetyMs: 0,
      unknownRetryMs: 15 * 60_000,
    });
    const archiverEnded = Date.now();
    const results = await instances;
    // Assess
    const calls = (await emulator.received()).filter((c) => c.at >= started);
    {
      for (const c of calls.filter((x) => x.code === 'FlowLimitExceeded.QPSOverLimit')) {
        const around = calls.filter((x) => x.at > c.at - 1000 && x.at <= c.at);
        console.log('throttled at', c.at - started, 'window', around.length, JSON.stringify(around.map((x) => [x.at - started, x.query.RoomId === 'closing' ? 'A' : 'L'])));
      }
    }
    expect(calls.filter((c) => c.code === 'FlowLimitExceeded.QPSOverLimit')).toHaveLength(0);
    // While both the lookups and the archiver want more than their shares, the account is used.
    const [from, to] = [archiverStarted + 500, Math.min(archiverEnded, started + LOOKUP_MS) - 500];
    const used = calls.filter((c) => c.at >= from && c.at < to).length / ((to - from) / 1000) / 60;
    expect(used).toBeGreaterThanOrEqual(0.9);
    expect(summary).toMatchObject({ tasksPolled: NEAR_DEADLINE, throttled: 0, errors: 0, tasksRetired: NEAR_DEADLINE, finalSnapshotsMissed: 0 });
    const statuses = results.reduce<Record<string, number>>((all, r) => {
      for (const [status, count] of Object.entries(r.statuses)) all[status] = (all[status] ?? 0) + count;
      return all;
    }, {});
    expect(statuses['429']).toBeGreaterThan(0); // offered load exceeds the lookup share: callers are told to come back
    expect(Object.keys(statuses).every((s) => s === '200' || s === '429')).toBe(true);
    expect(results.every((r) => r.retryAfterMissing === 0)).toBe(true);
    console.log(JSON.stringify({ quota_used: Math.round(used * 1000) / 1000, lookup_statuses: statuses, archiver_polled: summary.tasksPolled }));
  }, 90_000);
});
