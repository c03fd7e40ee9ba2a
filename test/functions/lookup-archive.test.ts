/** The lookup function with an archive: handler → client → emulator, and → S3-protocol server and dynalite. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ArchiveAccess } from '../../lib/archive/access.ts';
import { allEntries, type WatchRegistry } from '../../lib/archive/registry.ts';
import { HOUR } from '../support/clock.ts';
import { httpEvent } from '../support/http-events.ts';
import { startLookupStack, type LookupStack } from '../support/lookup-stack.ts';
import { abandoned } from '../support/abandoned.ts';

const APP = 'app-archive';
let stack: LookupStack;
let access: ArchiveAccess<WatchRegistry>;

const call = async (query: Array<[string, string]> | string) => {
  const result = await stack.invoke(httpEvent(query));
  return { ...result, json: JSON.parse(result.body) };
};
const action = (name: string, params: Record<string, string>): Array<[string, string]> => [
  ['Action', name],
  ['Version', '2023-11-01'],
  ...Object.entries(params),
];
const address = (taskId: string) => ({ appId: APP, roomId: 'room', taskId });
const run = (taskId: string, startTime: number) => ({ ...address(taskId), startTime });

async function registryEntries() {
  const entries = [];
  for await (const entry of allEntries(access.registry)) entries.push(entry);
  return entries;
}

/**
 * A stack whose lookups have 1 s while each S3 or DynamoDB attempt may take 10 s: only the lookup's
 * deadline can cut a request. Stopped after `work`, whatever it throws.
 */
async function withShortDeadline(work: (slow: LookupStack) => Promise<void>): Promise<void> {
  const slow = await startLookupStack({ archive: true, env: { LOOKUP_DEADLINE_MS: '1000', LOOKUP_ARCHIVE_TIMEOUT_MS: '10000' } });
  try {
    await work(slow);
  } finally {
    await slow.stop();
  }
}

beforeEach(async () => {
  stack = await startLookupStack({ archive: true });
  access = stack.archive!;
});
afterEach(() => stack.stop());

describe('GetSegmentTask with the archive', () => {
  it('registers a running task it answers live, with its real deadline', async () => {
    const seeded = stack.emulator.seedTask({ ...address('running') });
    const response = await stack.get(APP, 'room', 'running');
    await stack.get(APP, 'room', 'running');
    expect(response.statusCode).toBe(200);
    const entries = await registryEntries();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      kind: 'run',
      startTime: seeded.startTime,
      deadline: seeded.startTime + 72 * HOUR,
      state: 'known',
      via: 'lookup',
      address: address('running'),
    });
  });

  it("archives the running state it registers as the run's first snapshot, once per run", async () => {
    // Prepare
    const seeded = stack.emulator.seedTask({ ...address('first') });
    // Act: two lookups from this instance, one from another (no memory of the registration).
    const live = await stack.get(APP, 'room', 'first');
    await stack.get(APP, 'room', 'first');
    const other = await startLookupStack({ archive: false, env: { ...archiveEnvOf(stack) } });
    try {
      other.emulator.seedTask({ ...address('first'), startTime: seeded.startTime });
      await other.get(APP, 'room', 'first');
    } finally {
      await other.emulator.stop();
    }
    // Assess: one snapshot, the lookup's, not final.
    const timeline = await access.archive.timelinePage(run('first', seeded.startTime), { pageSize: 10 });
    expect(timeline.snapshots).toHaveLength(1);
    expect(timeline.snapshots[0]).toMatchObject({ Seq: 1, Final: false, Source: 'lookup', SegmentTask: live.json.Result.SegmentTask });
  });

  it("archives a terminal answer as its run's final snapshot, and asks Volcengine again from another instance", async () => {
    const seeded = stack.emulator.seedTask({ ...address('done'), status: 3, stopReason: 'StopByAPI', endTime: stack.clock.now() });
    const live = await stack.get(APP, 'room', 'done');
    expect(await access.archive.latest(run('done', seeded.startTime))).toMatchObject({
      Final: true,
      Source: 'lookup',
      SegmentTask: live.json.Result.SegmentTask,
    });
    // A second instance (no memory) asks Volcengine: the TaskId may have been reused for a new run since.
    const other = await startLookupStack({ archive: false, env: { ...archiveEnvOf(stack) } });
    try {
      other.emulator.seedTask({
        ...address('done'),
        status: 3,
        stopReason: 'StopByAPI',
        startTime: seeded.startTime,
        endTime: seeded.endTime,
      });
      const again = await other.get(APP, 'room', 'done');
      expect(again.headers['X-Answer-Source']).toBe('volcengine');
      expect(other.emulator.callsOf('GetSegmentTask')).toHaveLength(1);
    } finally {
      await other.emulator.stop();
    }
    expect(await registryEntries()).toHaveLength(0);
  });

  it('answers a named earlier run from the archive while Volcengine shows a newer one', async () => {
    const first = stack.clock.now() - 2 * HOUR;
    await access.archive.record(run('reused', first), {
      task: { StartTime: first, Status: 3, StopReason: 'UserDisconnect' },
      capturedAt: stack.clock.now() - HOUR,
      source: 'archiver',
      final: true,
    });
    const current = stack.emulator.seedTask({ ...address('reused') });
    const now = await call(action('GetSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'reused' }));
    const earlier = await call(action('GetSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'reused', StartTime: String(first) }));
    const unknownRun = await call(action('GetSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'reused', StartTime: String(first - 1) }));
    expect(now.headers['X-Answer-Source']).toBe('volcengine');
    expect(now.json.Result.SegmentTask.StartTime).toBe(current.startTime);
    expect(earlier.headers['X-Answer-Source']).toBe('archive');
    expect(earlier.json.Result).toMatchObject({ SegmentTask: { StartTime: first, Status: 3 }, Archive: { StartTime: first, Final: true } });
    expect(unknownRun.statusCode).toBe(404);
    expect(unknownRun.json.ResponseMetadata.Error.Message).toContain(`StartTime=${first - 1}`);
  });

  it('answers from the archive, saying so, once Volcengine has forgotten the task', async () => {
    const seeded = stack.emulator.seedTask({ ...address('old'), maxIdleTime: 86_400 });
    await access.archive.record(run('old', seeded.startTime), {
      task: { StartTime: seeded.startTime, Status: 2, EndTime: 0 },
      capturedAt: stack.clock.now(),
      source: 'archiver',
      final: true,
    });
    stack.clock.advance(73 * HOUR);
    const response = await stack.get(APP, 'room', 'old');
    expect(response.statusCode).toBe(200);
    expect(response.headers['X-Answer-Source']).toBe('archive');
    expect(response.json.Result.Archive.CapturedAt).toBe(new Date(stack.clock.now() - 73 * HOUR).toISOString());
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(1);
  });

  it('answers from the archive when Volcengine fails, and 404 when neither knows the task', async () => {
    await access.archive.record(run('flaky', stack.clock.now()), {
      task: { Status: 2 },
      capturedAt: stack.clock.now(),
      source: 'archiver',
      final: false,
    });
    stack.emulator.inject({ kind: 'http5xx' });
    const archived = await stack.get(APP, 'room', 'flaky');
    stack.emulator.clearFaults();
    const unknown = await stack.get(APP, 'room', 'nobody');
    expect(archived.headers['X-Answer-Source']).toBe('archive');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json.ResponseMetadata.Error.Message).toContain('archive has no snapshot');
  });

  it('keeps the archive work inside the lookup deadline when the bucket is slow', async () => {
    const slow = await startLookupStack({ archive: true, env: { LOOKUP_DEADLINE_MS: '1000', LOOKUP_ARCHIVE_TIMEOUT_MS: '3000' } });
    try {
      slow.emulator.seedTask({ ...address('slow-bucket') });
      slow.s3!.inject({ kind: 'latency', latencyMs: 3_000 });
      const started = Date.now();
      const response = await slow.get(APP, 'room', 'slow-bucket');
      expect(response.statusCode).toBe(200);
      expect(response.headers['X-Answer-Source']).toBe('volcengine');
      expect(Date.now() - started).toBeLessThan(1_000 + 500);
      // Volcengine failing too: the archive gets what is left of the same deadline, then 502/504.
      slow.emulator.inject({ kind: 'http5xx' });
      const started2 = Date.now();
      const failing = await slow.get(APP, 'room', 'slow-bucket');
      expect(failing.statusCode).toBeGreaterThanOrEqual(500);
      expect(Date.now() - started2).toBeLessThan(1_000 + 500);
    } finally {
      await slow.stop();
    }
  });

  it('cuts an archive read still running at the lookup deadline, not left to run on', () =>
    withShortDeadline(async (slow) => {
      // S3 answers in 8 s, each attempt may take 10 s: only the lookup's deadline (1 s) can cut the request.
      slow.emulator.inject({ kind: 'http5xx' });
      slow.s3!.inject({ kind: 'latency', latencyMs: 8_000 });
      const response = await slow.get(APP, 'room', 'cut-s3'); // Volcengine failing: the archive is read instead
      expect(response.statusCode).toBeGreaterThanOrEqual(500);
      await abandoned(() => slow.s3!.abandoned);
    }));

  it('cuts a Watch registration still running at the lookup deadline, not left to run on', () =>
    withShortDeadline(async (slow) => {
      slow.archive!.dynamodb.inject({ kind: 'latency', latencyMs: 8_000 });
      const result = await slow.invoke(httpEvent(action('WatchSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'cut-ddb' })));
      expect(result.statusCode).toBe(503); // the caller is told to try again: the registration is idempotent
      await abandoned(() => slow.archive!.dynamodb.abandoned);
    }));

  it('cuts the archive reads of ListSegmentTaskSnapshots at the lookup deadline and answers 503', () =>
    withShortDeadline(async (slow) => {
      slow.s3!.inject({ kind: 'latency', latencyMs: 8_000, operation: 'LIST' });
      const result = await slow.invoke(httpEvent(action('ListSegmentTaskSnapshots', { AppId: APP, RoomId: 'room', TaskId: 'x' })));
      expect(result.statusCode).toBe(503);
      await abandoned(() => slow.s3!.abandoned);
    }));

  it("writes a running run's first snapshot even when S3 takes it past the lookup's deadline", () =>
    withShortDeadline(async (slow) => {
      // Prepare: S3 writes answer in 2 s, after the 1 s deadline (each attempt may take 10 s).
      const seeded = slow.emulator.seedTask({ ...address('slow-put') });
      slow.s3!.inject({ kind: 'latency', latencyMs: 2_000, operation: 'PUT' });
      // Act: the live answer comes at the deadline; the run is registered, its snapshot still being written.
      const response = await slow.get(APP, 'room', 'slow-put');
      expect(response.headers['X-Answer-Source']).toBe('volcengine');
      // Assess: the write is not cut with the answer (no later lookup writes the run's first snapshot again).
      const registered = run('slow-put', seeded.startTime);
      await vi.waitFor(async () => expect(await slow.archive!.archive.timeline(registered)).toHaveLength(1), {
        timeout: 8_000,
        interval: 100,
      });
      expect(slow.s3!.abandoned).toBe(0);
    }));

  it('leaves no timeline read rejected unhandled when the deadline cuts a page part-way', () =>
    withShortDeadline(async (slow) => {
      // Prepare: six entries; the first two GETs answer at once, the rest outlast the 1 s deadline.
      const cut = run('cut-page', slow.clock.now());
      for (let i = 1; i <= 6; i++) {
        await slow.archive!.archive.record(cut, {
          task: { Status: 2, Duration: i },
          capturedAt: cut.startTime + i,
          source: 'archiver',
          final: false,
        });
      }
      slow.s3!.inject({ kind: 'latency', latencyMs: 8_000, operation: 'GET', keyContains: 'timeline/', after: 2 });
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        // Act
        const query = { AppId: APP, RoomId: 'room', TaskId: 'cut-page', StartTime: String(cut.startTime) };
        const result = await slow.invoke(httpEvent(action('ListSegmentTaskSnapshots', query)));
        // Assess: the entries read by then, where to go on; the four reads cut, none of their rejections unhandled.
        expect(result.statusCode).toBe(200);
        expect(JSON.parse(result.body).Result.Snapshots).toHaveLength(2);
        await abandoned(() => slow.s3!.abandoned, 4);
        await new Promise((resolve) => setTimeout(resolve, 200)); // the rejections' turn of the event loop, and then some
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    }));

  it('still answers live when the archive is down', async () => {
    stack.emulator.seedTask({ ...address('live') });
    stack.s3!.inject({ kind: 'http5xx' });
    const response = await stack.get(APP, 'room', 'live');
    expect(response.statusCode).toBe(200);
    expect(response.headers['X-Answer-Source']).toBe('volcengine');
  });
});

describe('archive actions', () => {
  it('WatchSegmentTask registers once, without or with an announced StartTime', async () => {
    const first = await call(action('WatchSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'w1' }));
    const again = await call(action('WatchSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'w1' }));
    const timed = await call(
      action('WatchSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'w2', StartTime: String(stack.clock.now() - HOUR) }),
    );
    const bad = await call(action('WatchSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'w3', StartTime: 'yesterday' }));
    expect(first.json.Result).toEqual({ Watched: true, AlreadyWatched: false });
    expect(again.json.Result).toEqual({ Watched: true, AlreadyWatched: true });
    expect(timed.statusCode).toBe(200);
    expect(bad.statusCode).toBe(400);
    expect(bad.json.ResponseMetadata.Error.Message).toContain('StartTime');
    const entries = await registryEntries();
    expect(entries.map((e) => [e.address.taskId, e.state])).toEqual(
      expect.arrayContaining([
        ['w1', 'unknown'],
        ['w2', 'announced'],
      ]),
    );
    expect(entries).toHaveLength(2);
  });

  it("WatchSegmentTask with the next run's StartTime watches that run beside the one watched now", async () => {
    // The defect: registration was per address, so announcing the next run answered AlreadyWatched and dropped it.
    stack.emulator.seedTask({ ...address('next'), startTime: stack.clock.now() - HOUR });
    await stack.get(APP, 'room', 'next'); // the running run, registered by the lookup
    const next = String(stack.clock.now() + HOUR);
    const announced = await call(action('WatchSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'next', StartTime: next }));
    const again = await call(action('WatchSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'next', StartTime: next }));
    expect(announced.json.Result).toEqual({ Watched: true, AlreadyWatched: false });
    expect(again.json.Result).toEqual({ Watched: true, AlreadyWatched: true });
    const entries = (await registryEntries()).filter((e) => e.address.taskId === 'next').sort((a, b) => a.startTime! - b.startTime!);
    expect(entries.map((e) => [e.state, e.startTime])).toEqual([
      ['known', stack.clock.now() - HOUR],
      ['announced', Number(next)],
    ]);
  });

  it("ListSegmentTaskSnapshots returns the latest run's timeline, or the run StartTime names", async () => {
    const t0 = stack.clock.now();
    const earlier = t0 - 5 * HOUR;
    await access.archive.record(run('tl', earlier), {
      task: { Status: 3, Duration: 10 },
      capturedAt: earlier + HOUR,
      source: 'archiver',
      final: true,
    });
    await access.archive.record(run('tl', t0), { task: { Status: 2, Duration: 20 }, capturedAt: t0, source: 'archiver', final: false });
    await access.archive.record(run('tl', t0), {
      task: { Status: 2, Duration: 30 },
      capturedAt: t0 + 60_000,
      source: 'archiver',
      final: false,
    });
    await access.archive.record(run('tl', t0), {
      task: { Status: 3, Duration: 30 },
      capturedAt: t0 + 120_000,
      source: 'archiver',
      final: true,
    });
    const response = await call(action('ListSegmentTaskSnapshots', { AppId: APP, RoomId: 'room', TaskId: 'tl' }));
    const named = await call(action('ListSegmentTaskSnapshots', { AppId: APP, RoomId: 'room', TaskId: 'tl', StartTime: String(earlier) }));
    const missing = await call(action('ListSegmentTaskSnapshots', { AppId: APP, RoomId: 'room', TaskId: 'none' }));
    const seconds = await call(
      action('ListSegmentTaskSnapshots', { AppId: APP, RoomId: 'room', TaskId: 'tl', StartTime: String(Math.floor(t0 / 1000)) }),
    );
    expect(response.json.Result.StartTime).toBe(t0);
    expect(response.json.Result.Snapshots.map((s: any) => [s.Seq, s.SegmentTask.Status, s.SegmentTask.Duration, s.Final])).toEqual([
      [1, 2, 20, false],
      [2, 2, 30, false],
      [3, 3, 30, true],
    ]);
    expect(named.json.Result.Snapshots.map((s: any) => [s.StartTime, s.SegmentTask.Duration, s.Final])).toEqual([[earlier, 10, true]]);
    expect(missing.statusCode).toBe(404);
    expect(seconds.statusCode).toBe(400);
  });

  it("ListArchivedSegmentTasks pages through a room's runs, each task's newest first", async () => {
    const t0 = stack.clock.now();
    for (const id of ['a1', 'a2', 'a3', 'a4'])
      await access.archive.record(run(id, t0), { task: { Status: 3 }, capturedAt: t0, source: 'archiver', final: true });
    await access.archive.record(run('a2', t0 - HOUR), { task: { Status: 3 }, capturedAt: t0, source: 'archiver', final: true });
    const seen: Array<[string, number]> = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const response = await call(
        action('ListArchivedSegmentTasks', { AppId: APP, RoomId: 'room', PageSize: '2', ...(token ? { PageToken: token } : {}) }),
      );
      expect(response.statusCode).toBe(200);
      seen.push(...response.json.Result.Runs.map((r: any) => [r.TaskId, r.StartTime]));
      token = response.json.Result.NextPageToken;
      pages++;
    } while (token);
    expect(seen).toEqual([
      ['a1', t0],
      ['a2', t0],
      ['a2', t0 - HOUR],
      ['a3', t0],
      ['a4', t0],
    ]);
    expect(pages).toBe(3);
    const badSize = await call(action('ListArchivedSegmentTasks', { AppId: APP, RoomId: 'room', PageSize: '1000' }));
    const badToken = await call(action('ListArchivedSegmentTasks', { AppId: APP, RoomId: 'room', PageToken: '<script>' }));
    expect([badSize.statusCode, badToken.statusCode]).toEqual([400, 400]);
    expect(badToken.json.ResponseMetadata.Error.Message).toContain('PageToken');
  });

  it('answers 503 in the envelope when the archive cannot be read', async () => {
    stack.s3!.inject({ kind: 'http5xx' });
    const response = await call(action('ListSegmentTaskSnapshots', { AppId: APP, RoomId: 'room', TaskId: 'x' }));
    expect(response.statusCode).toBe(503);
    expect(response.json.ResponseMetadata.Error.Code).toBe('ServiceUnavailable.Archive');
  });
});

describe('without an archive', () => {
  it('does not offer the archive actions', async () => {
    const plain = await startLookupStack();
    try {
      const result = await plain.invoke(httpEvent(action('WatchSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'w' })));
      expect(result.statusCode).toBe(404);
      expect(JSON.parse(result.body).ResponseMetadata.Error.Code).toBe('InvalidActionOrVersion');
    } finally {
      await plain.stop();
    }
  });
});

function archiveEnvOf(s: LookupStack): Record<string, string> {
  const { ARCHIVE_BUCKET, S3_ENDPOINT, S3_REGION, S3_FORCE_PATH_STYLE, REGISTRY_TABLE, DYNAMODB_ENDPOINT } = s.archive!.env;
  return { ARCHIVE_BUCKET, S3_ENDPOINT, S3_REGION, S3_FORCE_PATH_STYLE, REGISTRY_TABLE, DYNAMODB_ENDPOINT } as Record<string, string>;
}
