/** The archiver function (middy + Powertools): one run per invocation, one log line, EMF metrics. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArchiverHandler } from '../../lib/archive/archiver-handler.ts';
import { ArchiverEnvSchema, loadEnv } from '../../lib/config.ts';
import { lambdaContext } from '../support/http-events.ts';
import { captureOutput } from '../support/logs.ts';
import { startArchiverStack, type ArchiverStack } from '../support/archiver-stack.ts';
import { TEST_CREDENTIALS } from '../support/credentials.ts';

let stack: ArchiverStack;
beforeAll(async () => {
  stack = await startArchiverStack();
});
afterAll(() => stack.stop());

describe('archive function', () => {
  it('ends each run with one structured log line and the run metrics', async () => {
    // Prepare
    stack.emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'running' });
    stack.emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'done', status: 3, stopReason: 'StopByAPI' });
    await stack.watch({ appId: 'app', roomId: 'room', taskId: 'running' }, stack.clock.now());
    await stack.watch({ appId: 'app', roomId: 'room', taskId: 'done' }, stack.clock.now());
    const env = loadEnv(ArchiverEnvSchema, { ...stack.s3.clientEnv(), VOLC_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, VOLC_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey });
    const handler = createArchiverHandler({
      env,
      access: { archive: stack.archive, registry: stack.registry },
      upstream: stack.client,
      logger: new Logger({ serviceName: 'archive-test' }),
      metrics: new Metrics({ namespace: 'RtcSegmentTasks', serviceName: 'archive-test' }),
      now: stack.clock.now,
    });
    const output = captureOutput();
    let summary;
    try {
      // Act
      summary = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, lambdaContext(300_000));
    } finally {
      output.restore();
    }
    // Assess
    expect(summary).toMatchObject({ tasksPolled: 2, snapshotsWritten: 2, tasksRetired: 1, throttled: 0 });
    const lines = output.jsonLines();
    const finished = lines.filter((line) => line.message === 'archive run finished');
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ tasksPolled: 2, snapshotsWritten: 2, tasksRetired: 1, oldestDeadlineLeft: expect.any(String), archiveLagMs: 0 });
    const emf = lines.find((line) => line._aws) as Record<string, any> | undefined;
    const metricNames = emf?._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name);
    expect(metricNames).toEqual(expect.arrayContaining(['TasksPolled', 'SnapshotsWritten', 'TasksRetired', 'Throttled', 'OldestDeadlineLeft', 'ArchiveLag']));
    expect(emf?.TasksPolled).toBe(2);
  });
});
