/** The archiver function (middy + Powertools): one run per invocation, one log line, EMF metrics. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveRunSummary } from '../../lib/archive/archiver.ts';
import { allEntries } from '../../lib/archive/registry.ts';
import { lambdaContext } from '../support/http-events.ts';
import { captureOutput } from '../support/logs.ts';
import { startArchiverStack, type ArchiverStack } from '../support/archiver-stack.ts';
import { publishedMetrics, uncatalogued } from '../support/metrics.ts';

let stack: ArchiverStack;
beforeAll(async () => {
  stack = await startArchiverStack();
});
afterAll(() => stack.stop());

/** The archiver function's handler over the stack, with the archiver's environment (plus `env`). */
function archiverHandler(env: Record<string, string> = {}) {
  return stack.archiver(env, {
    logger: new Logger({ serviceName: 'archive-test' }),
    metrics: new Metrics({ namespace: 'RtcSegmentTasks', serviceName: 'archive-test' }),
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
