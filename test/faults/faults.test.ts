/**
 * Fault injection: every upstream and storage fault, against the lookup and the archiver.
 * For each fault the lookup answers within its deadline with the right status and code, and the
 * archiver finishes its run, loses no watched task and no snapshot, and catches up on the next
 * run. Counts are compared before and after; the suite prints one JSON line of figures.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { allEntries } from '../../lib/archive/registry.ts';
import type { DynamoDbFault } from '../dynamodb/dynalite-server.ts';
import type { Fault } from '../emulator/volc-emulator.ts';
import type { S3Fault } from '../s3/s3-server.ts';
import { startArchiverStack, type ArchiverStack } from '../support/archiver-stack.ts';
import { startLookupStack } from '../support/lookup-stack.ts';

const figures = { faults_injected: 0, watched_tasks_lost: 0, snapshots_lost: 0, lookup_wrong_answers: 0 };
afterAll(() => console.log(JSON.stringify(figures)));

const DEADLINE_MS = 600;

interface LookupCase {
  name: string;
  fault?: Fault;
  skewMs?: number;
  status: number;
  code?: string;
  upstreamCode?: string;
}

const lookupCases: LookupCase[] = [
  { name: 'latency past the deadline', fault: { kind: 'latency', latencyMs: 3_000 }, status: 504, code: 'UpstreamTimeout' },
  { name: 'a burst of one 5xx', fault: { kind: 'http5xx', status: 503, times: 1 }, status: 200 },
  { name: 'persistent 5xx', fault: { kind: 'http5xx', status: 500 }, status: 502, code: 'UpstreamError', upstreamCode: 'InternalError' },
  { name: 'one throttled answer', fault: { kind: 'throttle', times: 1 }, status: 200 },
  { name: 'persistent throttling', fault: { kind: 'throttle' }, status: 429, code: 'FlowLimitExceeded.QPSOverLimit' },
  { name: 'one connection reset', fault: { kind: 'reset', times: 1 }, status: 200 },
  { name: 'persistent connection resets', fault: { kind: 'reset' }, status: 502, code: 'UpstreamError' },
  { name: 'truncated JSON', fault: { kind: 'truncated-json' }, status: 502, code: 'UpstreamError' },
  { name: 'malformed JSON', fault: { kind: 'malformed-json' }, status: 502, code: 'UpstreamError' },
  { name: 'missing fields (schema drift)', fault: { kind: 'missing-fields' }, status: 200 },
  { name: 'extra fields (schema drift)', fault: { kind: 'extra-fields' }, status: 200 },
  { name: 'an HTML error page', fault: { kind: 'html-502' }, status: 502, code: 'UpstreamError' },
  { name: 'a clock skew that makes Volcengine reject the signature', skewMs: 30 * 60_000, status: 502, upstreamCode: 'InvalidTimestamp' },
];

describe('lookup under faults', () => {
  it.each(lookupCases)('$name → $status', async (testCase) => {
    const stack = await startLookupStack({
      env: { LOOKUP_DEADLINE_MS: String(DEADLINE_MS), VOLC_RETRY_BASE_MS: '20', VOLC_RETRY_MAX_MS: '100' },
      ...(testCase.skewMs ? { skewMs: testCase.skewMs } : {}),
    });
    try {
      stack.emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'task' });
      if (testCase.fault) stack.emulator.inject(testCase.fault);
      figures.faults_injected++;
      const started = performance.now();
      const response = await stack.get('app', 'room', 'task');
      const elapsed = performance.now() - started;
      const right =
        response.statusCode === testCase.status &&
        (testCase.code === undefined || response.json.ResponseMetadata.Error?.Code === testCase.code) &&
        (testCase.upstreamCode === undefined || response.json.ResponseMetadata.Error?.UpstreamCode === testCase.upstreamCode);
      if (!right) figures.lookup_wrong_answers++;
      expect(response.statusCode).toBe(testCase.status);
      if (testCase.code) expect(response.json.ResponseMetadata.Error.Code).toBe(testCase.code);
      if (testCase.upstreamCode) expect(response.json.ResponseMetadata.Error.UpstreamCode).toBe(testCase.upstreamCode);
      if (testCase.status === 200) expect(response.json.Result.SegmentTask.Status).toBe(2);
      // Answers come within the deadline (plus scheduling slack), never after the slow upstream.
      expect(elapsed).toBeLessThan(DEADLINE_MS + 1_000);
    } finally {
      await stack.stop();
    }
  });
});

interface ArchiverCase {
  name: string;
  upstream?: Fault;
  storage?: S3Fault;
  registry?: DynamoDbFault;
}

const archiverCases: ArchiverCase[] = [
  { name: 'upstream latency past the call timeout', upstream: { kind: 'latency', latencyMs: 3_000 } },
  { name: 'upstream 5xx', upstream: { kind: 'http5xx' } },
  { name: 'upstream throttling', upstream: { kind: 'throttle' } },
  { name: 'upstream connection resets', upstream: { kind: 'reset' } },
  { name: 'truncated JSON', upstream: { kind: 'truncated-json' } },
  { name: 'malformed JSON', upstream: { kind: 'malformed-json' } },
  { name: 'missing fields', upstream: { kind: 'missing-fields' } },
  { name: 'extra fields', upstream: { kind: 'extra-fields' } },
  { name: 'storage failing every PUT after a few', storage: { kind: 'http5xx', operation: 'PUT', after: 6 } },
  { name: 'registry dropping deletes', registry: { kind: 'drop', operation: 'DeleteItem' } },
  { name: 'registry throttling every write after a few', registry: { kind: 'throttle', operation: 'UpdateItem', after: 6 } },
  { name: 'registry failing the due query', registry: { kind: 'http5xx', operation: 'Query' } },
  { name: 'slow registry', registry: { kind: 'latency', latencyMs: 300, operation: 'UpdateItem' } },
  { name: 'storage dropping GETs', storage: { kind: 'drop', operation: 'GET', after: 3 } },
  { name: 'slow storage', storage: { kind: 'latency', latencyMs: 300, operation: 'PUT' } },
  { name: 'storage failing LIST', storage: { kind: 'http5xx', operation: 'LIST' } },
];

async function census(stack: ArchiverStack) {
  const watched = new Set<string>();
  for await (const entry of allEntries(stack.registry))
    watched.add(`${entry.address.appId}/${entry.address.roomId}/${entry.address.taskId}`);
  const snapshots = new Set<string>();
  for await (const key of stack.store.keys(`${stack.keys.prefix}tasks/`)) if (key.includes('/timeline/')) snapshots.add(key);
  return { watched, snapshots };
}

describe('archiver under faults', () => {
  it.each(archiverCases)(
    '$name: finishes, loses nothing, catches up',
    async (testCase) => {
      // Prepare: 12 watched tasks, a third of them finished, one run already done
      const stack = await startArchiverStack();
      try {
        const start = stack.clock.now();
        const addresses = Array.from({ length: 12 }, (_, i) => ({ appId: 'app', roomId: 'room', taskId: `t${i}` }));
        for (const [i, address] of addresses.entries()) {
          stack.emulator.seedTask({
            ...address,
            startTime: start,
            ...(i % 3 === 0 ? { status: 3, stopReason: 'StopByAPI', endTime: start } : {}),
          });
          await stack.registry.registerRun(address, start, 'lookup', start);
        }
        await stack.run({ callTimeoutMs: 500 });
        for (const [i, address] of addresses.entries())
          if (i % 3 === 1) stack.emulator.tasks.get(`app\nroom\n${address.taskId}`)!.duration = 45; // a change to capture
        const before = await census(stack);
        // Act
        if (testCase.upstream) stack.emulator.inject(testCase.upstream);
        if (testCase.storage) stack.s3.inject(testCase.storage);
        if (testCase.registry) stack.dynamodb.inject(testCase.registry);
        figures.faults_injected++;
        stack.clock.advance(5 * 60_000);
        const faulty = await stack.run({ callTimeoutMs: 500 });
        stack.emulator.clearFaults();
        stack.s3.clearFaults();
        stack.dynamodb.clearFaults();
        const during = await census(stack);
        stack.clock.advance(5 * 60_000);
        const recovered = await stack.run({ callTimeoutMs: 500 });
        const after = await census(stack);
        // Assess: nothing lost during the fault, everything caught up after it
        const lostTasks = [...before.watched].filter((task) => !during.watched.has(task));
        for (const task of lostTasks) {
          const [appId, roomId, taskId] = task.split('/') as [string, string, string];
          if ((await stack.archive.latest({ appId, roomId, taskId, startTime: start }))?.Final) continue; // retired properly
          figures.watched_tasks_lost++;
        }
        const lostSnapshots = [...before.snapshots].filter((key) => !during.snapshots.has(key) || !after.snapshots.has(key));
        figures.snapshots_lost += lostSnapshots.length;
        expect(faulty).toBeDefined();
        expect(lostSnapshots).toEqual([]);
        expect(recovered.errors).toBe(0);
        expect(after.watched.size).toBe(8); // the 8 running tasks; the 4 finished ones retired with their final snapshot
        for (const [i, address] of addresses.entries()) {
          const latest = await stack.archive.latest({ ...address, startTime: start });
          expect(latest?.SegmentTask.Status).toBe(i % 3 === 0 ? 3 : 2);
          if (i % 3 === 1) expect(latest?.SegmentTask.Duration).toBe(45);
        }
      } finally {
        await stack.stop();
      }
    },
    60_000,
  );

  it('counted no lost task or snapshot', () => {
    expect(figures.watched_tasks_lost).toBe(0);
    expect(figures.snapshots_lost).toBe(0);
  });
});
