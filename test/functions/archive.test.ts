/** The archiver function (middy + Powertools): one run per invocation, one log line, EMF metrics. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ArchiveAccess } from '../../lib/archive/access.ts';
import type { ArchiveRunSummary } from '../../lib/archive/archiver.ts';
import { allEntries, type WatchRegistry } from '../../lib/archive/registry.ts';
import { lambdaContext } from '../support/http-events.ts';
import { captureOutput } from '../support/logs.ts';
import { startArchiverStack, type ArchiverStack } from '../support/archiver-stack.ts';
import { publishedMetrics, uncatalogued } from '../support/metrics.ts';
import { abandoned } from '../support/abandoned.ts';

let stack: ArchiverStack;
beforeAll(async () => {
  stack = await startArchiverStack();
});
afterAll(() => stack.stop());

/** The archiver function's handler over `on` (the shared stack by default), with the archiver's environment (plus `env`). */
function archiverHandler(env: Record<string, string> = {}, on = stack, access?: ArchiveAccess<WatchRegistry>) {
  return on.archiver(env, {
    logger: new Logger({ serviceName: 'archive-test' }),
    metrics: new Metrics({ namespace: 'RtcSegmentTasks', serviceName: 'archive-test' }),
    ...(access ? { access } : {}),
  }).handler;
}

/** EventBridge's scheduled event: every delivery of one tick carries the same time. */
const scheduled = (time: number) => ({ source: 'aws.events', 'detail-type': 'Scheduled Event', time: new Date(time).toISOString() });

describe('archive function', () => {
  it('ends each run with one structured log line and the run metrics', async () => {
    // Prepare
    stack.emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'running' });
    stack.emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'done', status: 3, stopReason: 'StopByAPI' });
    await stack.watch({ appId: 'app', roomId: 'room', taskId: 'running' }, stack.clock.now());
    await stack.watch({ appId: 'app', roomId: 'room', taskId: 'done' }, stack.clock.now());
    const handler = archiverHandler();
    const output = captureOutput();
    let summary: ArchiveRunSummary | undefined;
    try {
      // Act
      summary = await handler(scheduled(stack.clock.now()), lambdaContext(300_000));
    } finally {
      output.restore();
    }
    // Assess
    expect(summary).toMatchObject({ tasksPolled: 2, snapshotsWritten: 2, tasksRetired: 1, throttled: 0 });
    const lines = output.jsonLines();
    const finished = lines.filter((line) => line.message === 'archive run finished');
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({
      tasksPolled: 2,
      snapshotsWritten: 2,
      tasksRetired: 1,
      oldestDeadlineLeft: expect.any(String),
      archiveLagMs: 0,
    });
    const emf = lines.find((line) => line._aws) as Record<string, any> | undefined;
    const metricNames = emf?._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name);
    expect(metricNames).toEqual(
      expect.arrayContaining(['TasksPolled', 'SnapshotsWritten', 'TasksRetired', 'Throttled', 'OldestDeadlineLeft', 'ArchiveLag']),
    );
    expect(emf?.TasksPolled).toBe(2);
    expect(uncatalogued('archive', publishedMetrics(lines))).toEqual([]);
  });

  it('skips a duplicate delivery of a tick it ran, with a log line and the DuplicateRuns metric', async () => {
    stack.clock.advance(5 * 60_000);
    const handler = archiverHandler();
    const tick = stack.clock.now();
    await handler(scheduled(tick), { ...lambdaContext(300_000), awsRequestId: 'first-delivery' });
    const output = captureOutput();
    let summary: ArchiveRunSummary | undefined;
    try {
      summary = await handler(scheduled(tick), { ...lambdaContext(300_000), awsRequestId: 'second-delivery' });
    } finally {
      output.restore();
    }
    expect(summary).toMatchObject({ duplicate: true, tasksPolled: 0 });
    const lines = output.jsonLines();
    expect(lines.some((line) => line.message === 'archive run skipped: another delivery of this schedule tick runs it')).toBe(true);
    expect(lines.find((line) => line._aws)).toMatchObject({ DuplicateRuns: 1 });
  });

  it('ends a run cleanly, with its summary line and metrics, inside the Lambda timeout when S3 is slow', async () => {
    // Prepare: 6 watched tasks; every S3 call takes 2.5 s; the invocation has 9 s left.
    for (let i = 0; i < 6; i++) {
      stack.emulator.seedTask({ appId: 'app', roomId: 'slow', taskId: `slow-${i}` });
      await stack.watch({ appId: 'app', roomId: 'slow', taskId: `slow-${i}` }, stack.clock.now());
    }
    const handler = archiverHandler({ ARCHIVE_SAFETY_MS: '1000', ARCHIVE_CONCURRENCY: '2' });
    stack.s3.inject({ kind: 'latency', latencyMs: 2_500 });
    const output = captureOutput();
    const started = Date.now();
    let summary: ArchiveRunSummary | undefined;
    try {
      stack.clock.advance(5 * 60_000);
      summary = await handler(scheduled(stack.clock.now()), lambdaContext(9_000));
    } finally {
      output.restore();
      stack.s3.clearFaults();
    }
    // Assess: it answered before the timeout, said what it did, and left the unfinished entries for the next run.
    expect(Date.now() - started).toBeLessThan(9_000);
    expect(summary).toMatchObject({ stoppedEarly: true });
    const finished = output.jsonLines().filter((line) => line.message === 'archive run finished');
    expect(finished).toHaveLength(1);
    expect(output.jsonLines().some((line) => line._aws)).toBe(true);
    let left = 0;
    for await (const entry of allEntries(stack.registry)) if (entry.address.roomId === 'slow') left++;
    expect(left).toBe(6);
  }, 30_000);
});

/**
 * A stack of its own whose archiver invocations have 7 s left, so their work has 4 s (3 s are kept for the run's end),
 * while each S3 or DynamoDB attempt may take 20 s: only the invocation's deadline can cut a request. One watched running
 * run. Stopped after `work`, whatever it throws.
 */
async function withSlowStores(work: (own: ArchiverStack, invoke: () => Promise<ArchiveRunSummary>) => Promise<void>): Promise<void> {
  const own = await startArchiverStack();
  try {
    own.emulator.seedTask(SLOW);
    await own.watch(SLOW, own.clock.now());
    const handler = archiverHandler({ ARCHIVE_SAFETY_MS: '1000' }, own, own.stores({ requestTimeoutMs: 20_000 }));
    const output = captureOutput();
    const invoke = async () => {
      try {
        return await handler(scheduled(own.clock.now()), lambdaContext(7_000));
      } finally {
        lines = output.jsonLines();
      }
    };
    try {
      await work(own, invoke);
    } finally {
      output.restore();
    }
  } finally {
    await own.stop();
  }
}

const SLOW = { appId: 'app', roomId: 'deadline', taskId: 'slow' };
/** What the last invocation under withSlowStores logged. */
let lines: Array<Record<string, unknown>> = [];

async function entriesOf(own: ArchiverStack, roomId: string) {
  const found = [];
  for await (const entry of allEntries(own.registry)) if (entry.address.roomId === roomId) found.push(entry);
  return found;
}

describe('archive function: one deadline per invocation, where the time kept for the end of the run begins', () => {
  it(
    "cuts an entry's DynamoDB request still running at its deadline, and keeps the entry for the next run",
    () =>
      withSlowStores(async (own, invoke) => {
        // Prepare: the entry's claim (the UpdateItem after the tick's) answers in 10 s.
        own.dynamodb.inject({ kind: 'latency', latencyMs: 10_000, operation: 'UpdateItem', after: 1, times: 1 });
        // Act
        const summary = await invoke();
        // Assess: the claim was cut, not left to run on; the entry waits for the next run, unclaimed.
        expect(summary).toMatchObject({ stoppedEarly: true, errors: 1, tasksPolled: 0 });
        await abandoned(() => own.dynamodb.abandoned, 1, 8_000);
        expect(await entriesOf(own, SLOW.roomId)).toMatchObject([{ polledTick: undefined }]);
        expect(lines.filter((line) => line.message === 'archive run finished')).toHaveLength(1);
      }),
    30_000,
  );

  it(
    'cuts a page of the due index still being read at its deadline: the run ends in time, stopped early, with no error',
    () =>
      withSlowStores(async (own, invoke) => {
        // Prepare: the first page of the due index (the Query after the count of the refresh lane) answers in 10 s, past the
        // Lambda's 7 s.
        own.dynamodb.inject({ kind: 'latency', latencyMs: 10_000, operation: 'Query', after: 1, times: 1 });
        // Act
        const summary = await invoke();
        // Assess: the page was cut at the deadline (not awaited into the time kept for the end, nor past the Lambda's); a
        // read cut by the deadline is no storage fault: the run ended its tick, and the entry waits for the next run.
        expect(summary).toMatchObject({ stoppedEarly: true, errors: 0, tasksPolled: 0 });
        await abandoned(() => own.dynamodb.abandoned, 1, 8_000);
        expect(lines.some((line) => String(line.message).includes('could not be listed'))).toBe(false);
        expect(await entriesOf(own, SLOW.roomId)).toHaveLength(1);
        const duplicate = await invoke();
        expect(duplicate.duplicate).toBe(true);
      }),
    30_000,
  );

  it(
    "does not cut a snapshot's write still running at its deadline: the entry is left, and the snapshot is written",
    () =>
      withSlowStores(async (own, invoke) => {
        // Prepare: the run's first timeline entry takes 6 s to write.
        own.s3.inject({ kind: 'latency', latencyMs: 6_000, operation: 'PUT', keyContains: '/timeline/', times: 1 });
        // Act
        const summary = await invoke();
        // Assess: the run stopped waiting for the entry at its deadline, and the write went on: no later ask rewrites what
        // this one saw.
        expect(summary).toMatchObject({ stoppedEarly: true, errors: 1, tasksPolled: 1 });
        const [entry] = await entriesOf(own, SLOW.roomId);
        const run = { ...SLOW, startTime: entry!.startTime! };
        await vi.waitFor(async () => expect(await own.archive.timeline(run)).toHaveLength(1), { timeout: 10_000, interval: 100 });
        expect(own.s3.abandoned).toBe(0);
      }),
    30_000,
  );

  it(
    "waits for the tick's end write only while the time kept for the run's end allows: the run still ends with its summary",
    () =>
      withSlowStores(async (own, invoke) => {
        // Prepare: the first due page answers in 10 s (cut at the 4 s deadline), then the tick's end write takes 8 s, past the
        // Lambda's 7 s.
        own.dynamodb.inject({ kind: 'latency', latencyMs: 10_000, operation: 'Query', after: 1, times: 1 });
        own.dynamodb.inject({ kind: 'latency', latencyMs: 8_000, operation: 'UpdateItem', after: 1, times: 1 });
        // Act
        const summary = await invoke();
        // Assess: the invocation answered (no Lambda timeout), with its summary line; the end write was left to go on.
        expect(summary).toMatchObject({ stoppedEarly: true, errors: 0 });
        expect(lines.filter((line) => line.message === 'archive run finished')).toHaveLength(1);
      }),
    30_000,
  );
});
