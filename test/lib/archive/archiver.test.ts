import { afterEach, describe, expect, it } from 'vitest';
import { HOUR } from '../../support/clock.ts';
import { STORAGE_SECRETS, ALL_SECRETS } from '../../support/credentials.ts';
import { startArchiverStack, type ArchiverStack } from '../../support/archiver-stack.ts';

const APP = 'app-1';
let stack: ArchiverStack;
afterEach(async () => {
  await stack?.stop();
});

const address = (taskId: string, roomId = 'room-1') => ({ appId: APP, roomId, taskId });
const run = (taskId: string, startTime: number, roomId = 'room-1') => ({ ...address(taskId, roomId), startTime });

async function registryKeys(s: ArchiverStack): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of s.registry.entries()) keys.push(entry.key);
  return keys;
}

describe('archiver', () => {
  it('follows a task from start to finish through several runs, keeping each distinct state once', async () => {
    // Prepare
    stack = await startArchiverStack();
    const task = stack.emulator.seedTask({ ...address('t1'), maxIdleTime: 120 });
    await stack.watch(address('t1'));
    // Act: run 1 sees it running (and learns its StartTime), run 2 sees no change, then Update, then it ends.
    const first = await stack.run();
    stack.clock.advance(5 * 60_000);
    const second = await stack.run();
    task.duration = 30;
    stack.clock.advance(5 * 60_000);
    const third = await stack.run();
    stack.emulator.streamsGoIdle(APP, 'room-1', 't1');
    stack.clock.advance(5 * 60_000);
    const fourth = await stack.run();
    // Assess
    expect([first.snapshotsWritten, second.snapshotsWritten, third.snapshotsWritten, fourth.snapshotsWritten]).toEqual([1, 0, 1, 1]);
    expect(fourth.tasksRetired).toBe(1);
    expect(await registryKeys(stack)).toEqual([]);
    const timeline = await stack.archive.timeline(run('t1', task.startTime));
    expect(timeline.map((s) => [s.Seq, s.SegmentTask.Status, s.SegmentTask.Duration, s.Final])).toEqual([
      [1, 2, 20, false],
      [2, 2, 30, false],
      [3, 3, 30, true],
    ]);
    const latest = await stack.archive.latest(run('t1', task.startTime));
    expect(latest).toMatchObject({ Final: true, SegmentTask: { Status: 3, StopReason: 'IdleTimeOut' } });
  });

  it('takes a final snapshot of a task still running near hour 72, and retires it', async () => {
    stack = await startArchiverStack();
    const start = stack.clock.now();
    stack.emulator.seedTask({ ...address('long'), startTime: start, maxIdleTime: 86_400 });
    await stack.watch(address('long'), start);
    stack.clock.advance(71 * HOUR);
    const early = await stack.run();
    stack.clock.advance(40 * 60_000); // 71 h 40 min: inside the 30-minute margin
    const final = await stack.run();
    expect(early).toMatchObject({ snapshotsWritten: 1, tasksRetired: 0 });
    expect(final).toMatchObject({ snapshotsWritten: 1, tasksRetired: 1, finalSnapshotsMissed: 0 });
    expect(await stack.archive.latest(run('long', start))).toMatchObject({ Final: true, SegmentTask: { Status: 2 } });
    expect(await registryKeys(stack)).toEqual([]);
  });

  it('records a registration Volcengine never shows a run for, 72 hours after it was made, instead of dropping it', async () => {
    stack = await startArchiverStack();
    const registeredAt = stack.clock.now();
    await stack.watch(address('ghost'));
    const first = await stack.run();
    expect(first).toMatchObject({ notFound: 1, tasksRetired: 0 });
    expect(await registryKeys(stack)).toHaveLength(1);
    stack.clock.advance(72 * HOUR);
    const last = await stack.run();
    expect(last).toMatchObject({ tasksPolled: 0, tasksRetired: 1 });
    expect(await registryKeys(stack)).toEqual([]);
    const record = await stack.store.getJson(stack.keys.notFound(address('ghost'), registeredAt));
    expect(record?.body).toMatchObject({
      Outcome: 'not-found',
      RegisteredAt: new Date(registeredAt).toISOString(),
      AnnouncedStartTime: null,
    });
    expect(await stack.store.getJson(stack.keys.watchMarker(address('ghost')))).toBeUndefined();
  });

  it('reports a task whose window closed before its final snapshot', async () => {
    stack = await startArchiverStack();
    const start = stack.clock.now();
    stack.emulator.seedTask({ ...address('late'), startTime: start });
    await stack.watch(address('late'), start);
    await stack.run();
    stack.clock.advance(72 * HOUR + 1);
    const summary = await stack.run();
    expect(summary).toMatchObject({ finalSnapshotsMissed: 1, tasksRetired: 1 });
    expect((await stack.store.getJson(stack.keys.retired(run('late', start))))?.body).toMatchObject({
      Outcome: 'expired-without-final',
      HadSnapshot: true,
    });
  });

  it('loses nothing when object storage fails in the middle of a run, and catches up next run', async () => {
    // Prepare: 30 tasks, 10 of them finished
    stack = await startArchiverStack();
    const start = stack.clock.now();
    for (let i = 0; i < 30; i++) {
      stack.emulator.seedTask({
        ...address(`t${i}`),
        startTime: start,
        ...(i % 3 === 0 ? { status: 3, stopReason: 'StopByAPI', endTime: start } : {}),
      });
      await stack.watch(address(`t${i}`), start);
    }
    const before = await registryKeys(stack);
    // Act: PUTs fail after the first 12, and some DELETEs are dropped
    stack.s3.inject({ kind: 'http5xx', operation: 'PUT', after: 12 });
    stack.s3.inject({ kind: 'drop', operation: 'DELETE', times: 3 });
    const broken = await stack.run();
    stack.s3.clearFaults();
    const afterBroken = await registryKeys(stack);
    const recovered = await stack.run();
    // Assess: nothing retired without its snapshot; every task archived after the second run
    expect(broken.errors).toBeGreaterThan(0);
    for (const key of before) {
      const parsed = stack.keys.parseRegistryEntry(key)!;
      const latest = await stack.archive.latest({ ...parsed.address, startTime: start });
      if (!afterBroken.includes(key)) expect(latest?.Final).toBe(true);
      expect(latest).toBeDefined();
    }
    expect(recovered.errors).toBe(0);
    const left = await registryKeys(stack);
    expect(left).toHaveLength(20);
    // Registered as announced, they are watched as known runs once Volcengine showed them.
    expect(left.every((k) => stack.keys.parseRegistryEntry(k)?.state === 'known')).toBe(true);
    expect(new Set(left.map((k) => stack.keys.parseRegistryEntry(k)!.deadline))).toEqual(new Set([start + 72 * HOUR]));
  });

  it('two concurrent runs leave the same bucket as one run', async () => {
    const seed = async (s: ArchiverStack) => {
      for (let i = 0; i < 40; i++) {
        s.emulator.seedTask({ ...address(`c${i}`), ...(i % 4 === 0 ? { status: 4, stopReason: 'StartTaskFailed' } : {}) });
        await s.watch(address(`c${i}`), i % 2 ? s.clock.now() : undefined);
      }
    };
    const normalise = (dump: Map<string, string>) =>
      [...dump.entries()]
        .map(([k, v]) => [
          k.replace(/(runs|watch)\/\d{13}/, '$1/…'),
          v.replace(/"(RegisteredAt|CapturedAt|UpstreamRequestId|StartTime|Deadline)":("[^"]*"|\d+)/g, '"$1":"…"'),
        ])
        .sort();
    // Both runs share the process's Volcengine budget (50/s + 5), as two invocations would share Volcengine's 60/s.
    stack = await startArchiverStack({ qps: 50, burst: 5 });
    await seed(stack);
    const runs = await Promise.all([stack.run(), stack.run()]);
    expect(runs.map((r) => r.throttled)).toEqual([0, 0]);
    const twice = normalise(await stack.dump());
    await stack.stop();
    stack = await startArchiverStack({ qps: 50, burst: 5 });
    await seed(stack);
    await stack.run();
    const once = normalise(await stack.dump());
    expect(twice).toEqual(once);
  });

  it('writes no secret into the archive', async () => {
    stack = await startArchiverStack({ emulator: { echoStorageSecrets: true } });
    stack.emulator.seedTask({ ...address('s1'), storageConfig: { Type: 2, CustomConfig: { Bucket: 'b', ...STORAGE_SECRETS } } });
    await stack.watch(address('s1'));
    await stack.run();
    const everything = [...(await stack.dump()).entries()].join('\n');
    expect(everything).toContain('"Bucket":"b"');
    for (const secret of ALL_SECRETS) expect(everything).not.toContain(secret);
  });

  it('stops taking work when the time budget runs low, and the next run resumes in deadline order', async () => {
    stack = await startArchiverStack();
    for (let i = 0; i < 20; i++) {
      stack.emulator.seedTask({ ...address(`b${i}`), startTime: stack.clock.now() - i * 60_000 });
      await stack.watch(address(`b${i}`), stack.clock.now() - i * 60_000);
    }
    let budget = 5;
    const partial = await stack.run({ concurrency: 1, timeLeftMs: () => (budget-- > 0 ? 1 : 0), safetyMs: 1 });
    expect(partial.stoppedEarly).toBe(true);
    expect(partial.tasksPolled).toBe(5);
    // the five polled are the five earliest deadlines: started 19..15 minutes ago
    for (let i = 15; i < 20; i++) expect(await stack.archive.latest(run(`b${i}`, stack.clock.now() - i * 60_000))).toBeDefined();
    expect(await stack.archive.latest(run('b14', stack.clock.now() - 14 * 60_000))).toBeUndefined();
    expect(partial.oldestDeadlineLeft).toBe(stack.clock.now() - 19 * 60_000 + 72 * HOUR);
    const rest = await stack.run();
    expect(rest.tasksPolled).toBe(20);
  });

  it('polls 10,000 watched tasks in one run, a LIST page at a time, with bounded memory', async () => {
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } } });
    const start = stack.clock.now();
    const ids = Array.from({ length: 10_000 }, (_, i) => `bulk-${String(i).padStart(5, '0')}`);
    for (const id of ids) stack.emulator.seedTask({ ...address(id, 'bulk'), startTime: start, status: 3, stopReason: 'StopByAPI' });
    for (let i = 0; i < ids.length; i += 200) {
      await Promise.all(
        ids
          .slice(i, i + 200)
          .map((id) =>
            stack.store.putJson(
              stack.keys.registryEntry({ deadline: start + 72 * HOUR, state: 'known', nextPollAt: 0, address: address(id, 'bulk') }),
              {},
            ),
          ),
      );
    }
    const lists = stack.s3.counts.LIST;
    const heapBefore = process.memoryUsage().heapUsed;
    const summary = await stack.run({ concurrency: 32 });
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    expect(summary).toMatchObject({ tasksPolled: 10_000, snapshotsWritten: 10_000, tasksRetired: 10_000, errors: 0 });
    expect(stack.s3.counts.LIST - lists).toBeLessThanOrEqual(10_000 / 1000 + 1);
    expect(heapGrowth).toBeLessThan(200 * 1024 * 1024);
  }, 240_000);
});
