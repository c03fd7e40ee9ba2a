/**
 * The archiver against real protocol peers: the Volcengine emulator, the S3-protocol server and
 * dynalite for the registry, on one clock stepped run by run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { allEntries, type Due, type RegistryEntry } from '../../../lib/archive/registry.ts';
import { HOUR } from '../../support/clock.ts';
import { ALL_SECRETS, STORAGE_SECRETS } from '../../support/credentials.ts';
import { startArchiverStack, type ArchiverStack } from '../../support/archiver-stack.ts';

const APP = 'app-1';
const MINUTE = 60_000;
let stack: ArchiverStack;
afterEach(async () => {
  await stack?.stop();
});

const address = (taskId: string, roomId = 'room-1') => ({ appId: APP, roomId, taskId });
const run = (taskId: string, startTime: number, roomId = 'room-1') => ({ ...address(taskId, roomId), startTime });
const retryRef = (taskId: string) => ({ address: address(taskId), kind: 'pending' as const, startTime: undefined });

async function entries(s: ArchiverStack): Promise<RegistryEntry[]> {
  const all: RegistryEntry[] = [];
  for await (const entry of allEntries(s.registry)) all.push(entry);
  return all;
}

/** Runs the archiver every five minutes, `runs` times. */
async function every5Minutes(s: ArchiverStack, runs: number) {
  const summaries = [];
  for (let i = 0; i < runs; i++) {
    s.clock.advance(5 * MINUTE);
    summaries.push(await s.run());
  }
  return summaries;
}

describe('archiver', () => {
  it('follows a task from start to finish through several runs, keeping each distinct state once', async () => {
    // Prepare
    stack = await startArchiverStack();
    const task = stack.emulator.seedTask({ ...address('t1'), maxIdleTime: 120 });
    await stack.watch(address('t1'));
    // Act: run 1 sees it running (and learns its StartTime), run 2 sees no change, then Update, then it ends.
    const first = await stack.run();
    const [second] = await every5Minutes(stack, 1);
    task.duration = 30;
    const [third] = await every5Minutes(stack, 1);
    stack.emulator.streamsGoIdle(APP, 'room-1', 't1');
    const [fourth] = await every5Minutes(stack, 1);
    // Assess
    expect([first, second, third, fourth].map((s) => s!.snapshotsWritten)).toEqual([1, 0, 1, 1]);
    expect(fourth!.tasksRetired).toBe(1);
    expect(await entries(stack)).toEqual([]);
    const timeline = await stack.archive.timeline(run('t1', task.startTime));
    expect(timeline.map((s) => [s.Seq, s.SegmentTask.Status, s.SegmentTask.Duration, s.Final])).toEqual([
      [1, 2, 20, false],
      [2, 2, 30, false],
      [3, 3, 30, true],
    ]);
  });

  it('keeps polling a run inside the final margin until its window closes, and archives an end there as terminal', async () => {
    // The defect: the final snapshot was taken 30 minutes early and the run retired, so its end 10 minutes before the close was lost.
    stack = await startArchiverStack();
    const start = stack.clock.now();
    stack.emulator.seedTask({ ...address('late-end'), startTime: start, maxIdleTime: 86_400 });
    await stack.watch(address('late-end'), start);
    stack.clock.set(start + 72 * HOUR - 35 * MINUTE);
    await stack.run();
    const inMargin = await every5Minutes(stack, 4); // 71:30 … 71:45
    stack.emulator.userLeaves(APP, 'room-1', 'late-end'); // ends 10 minutes before the close
    const [ended] = await every5Minutes(stack, 1);
    expect(inMargin.map((s) => s.tasksRetired)).toEqual([0, 0, 0, 0]);
    expect(ended).toMatchObject({ tasksRetired: 1, finalSnapshotsMissed: 0 });
    const timeline = await stack.archive.timeline(run('late-end', start));
    expect(timeline.map((s) => [s.SegmentTask.Status, s.Final])).toEqual([
      [2, false],
      [2, true],
      [3, true],
    ]);
  });

  it('takes its last capture before the window closes as final, and lets the run go at the close without a miss', async () => {
    stack = await startArchiverStack();
    const start = stack.clock.now();
    stack.emulator.seedTask({ ...address('long'), startTime: start, maxIdleTime: 86_400 });
    await stack.watch(address('long'), start);
    stack.clock.set(start + 71 * HOUR);
    await stack.run();
    const last = await every5Minutes(stack, 12); // 71:05 … 72:00
    expect(last.slice(0, -1).every((s) => s.tasksRetired === 0)).toBe(true);
    expect(last.at(-1)).toMatchObject({ tasksRetired: 1, finalSnapshotsMissed: 0, tasksPolled: 0 });
    expect(await stack.archive.latest(run('long', start))).toMatchObject({ Final: true, SegmentTask: { Status: 2 } });
    // From 71:05 the run waits for its margin (71:30) in the closing lane: its next refresh (71:10), as late as a refresh may
    // be before it goes ahead of first asks (its interval, 5 min, plus 15), could have fallen inside it. Then every run.
    const asked = stack.emulator.callsOf('GetSegmentTask').map((call) => (call.at - start) / MINUTE - 71 * 60);
    expect(asked).toEqual([0, 5, 30, 35, 40, 45, 50, 55]);
  });

  it('records a registration Volcengine never shows a run for, 72 hours after it was made, instead of dropping it', async () => {
    stack = await startArchiverStack();
    const registeredAt = stack.clock.now();
    await stack.watch(address('ghost'));
    const first = await stack.run();
    expect(first).toMatchObject({ notFound: 1, tasksRetired: 0 });
    stack.clock.advance(72 * HOUR);
    const last = await stack.run();
    expect(last).toMatchObject({ tasksPolled: 0, tasksRetired: 1 });
    expect(await entries(stack)).toEqual([]);
    const record = await stack.store.getJson(stack.keys.notFound(address('ghost'), registeredAt));
    expect(record?.body).toMatchObject({
      Outcome: 'not-found',
      RegisteredAt: new Date(registeredAt).toISOString(),
      AnnouncedStartTime: null,
    });
  });

  it('asks about an address Volcengine refuses every 15 minutes, not every run, with no error; it goes refused after 72 h', async () => {
    // The defect: a 400 for an AppId that is not ours was polled on every run for 72 hours, an Errors alarm each time.
    stack = await startArchiverStack({ emulator: { foreignAppIds: ['not-ours'] } });
    const registeredAt = stack.clock.now();
    await stack.registry.registerPending({ appId: 'not-ours', roomId: 'r', taskId: 't' }, 'callback', registeredAt);
    const summaries = [await stack.run(), ...(await every5Minutes(stack, 72 * 12 + 2))];
    const polls = stack.emulator.callsOf('GetSegmentTask').length;
    expect(polls).toBeGreaterThanOrEqual(72 * 3 - 1);
    expect(polls).toBeLessThanOrEqual(72 * 4 + 1);
    expect(summaries.reduce((sum, s) => sum + s.errors, 0)).toBe(0);
    expect(summaries.reduce((sum, s) => sum + s.refused, 0)).toBe(polls);
    expect(await entries(stack)).toEqual([]);
    const record = await stack.store.getJson(stack.keys.notFound({ appId: 'not-ours', roomId: 'r', taskId: 't' }, registeredAt));
    expect(record?.body).toMatchObject({ Outcome: 'refused', UpstreamCode: 'InvalidParameter.AccountIdMismatch' });
  }, 120_000);

  it('reports a task whose window closed before its final snapshot, once', async () => {
    stack = await startArchiverStack();
    const start = stack.clock.now();
    stack.emulator.seedTask({ ...address('late'), startTime: start });
    await stack.watch(address('late'), start);
    await stack.run();
    stack.clock.advance(72 * HOUR + 1);
    // The retirement fails once after the record was written: the retry must not count the miss again.
    // (the SDK tries each request three times, the archiver each step twice)
    stack.dynamodb.inject({ kind: 'http5xx', operation: 'DeleteItem', times: 6 });
    const failed = await stack.run();
    stack.clock.advance(5 * MINUTE);
    const retried = await stack.run();
    expect(failed).toMatchObject({ finalSnapshotsMissed: 1, tasksRetired: 0, errors: 1 });
    expect(retried).toMatchObject({ finalSnapshotsMissed: 0, tasksRetired: 1 });
    expect((await stack.store.getJson(stack.keys.retired(run('late', start))))?.body).toMatchObject({
      Outcome: 'expired-without-final',
      HadSnapshot: true,
    });
  });

  it('loses nothing when S3 or DynamoDB fails in the middle of a run, and catches up next run', async () => {
    // Prepare: 30 tasks, 10 of them finished
    stack = await startArchiverStack();
    const start = stack.clock.now();
    for (let i = 0; i < 30; i++) {
      stack.emulator.seedTask({
        ...address(`t${i}`),
        startTime: start,
        ...(i % 3 === 0 ? { status: 3, stopReason: 'StopByAPI', endTime: start } : {}),
      });
      await stack.registry.registerRun(address(`t${i}`), start, 'lookup', start);
    }
    // Act: S3 PUTs fail after the first 12, DynamoDB drops some writes and throttles a query page
    stack.s3.inject({ kind: 'http5xx', operation: 'PUT', after: 12 });
    stack.dynamodb.inject({ kind: 'drop', operation: 'UpdateItem', after: 20, times: 4 });
    stack.dynamodb.inject({ kind: 'drop', operation: 'DeleteItem', times: 3 });
    const broken = await stack.run();
    stack.s3.clearFaults();
    stack.dynamodb.clearFaults();
    const afterBroken = await entries(stack);
    stack.clock.advance(5 * MINUTE);
    const recovered = await stack.run();
    // Assess: nothing retired without its final snapshot; every task archived after the second run
    expect(broken.errors).toBeGreaterThan(0);
    for (let i = 0; i < 30; i++) {
      const latest = await stack.archive.latest(run(`t${i}`, start));
      if (!afterBroken.some((e) => e.address.taskId === `t${i}`)) expect(latest?.Final).toBe(true);
    }
    expect(recovered.errors).toBe(0);
    for (let i = 0; i < 30; i++) expect(await stack.archive.latest(run(`t${i}`, start))).toBeDefined();
    const left = await entries(stack);
    expect(left.map((e) => e.address.taskId).sort()).toEqual(
      Array.from({ length: 30 }, (_, i) => `t${i}`)
        .filter((_, i) => i % 3 !== 0)
        .sort(),
    );
    expect(left.every((e) => e.state === 'known' && e.deadline === start + 72 * HOUR)).toBe(true);
  });

  it('lets a duplicate delivery of a schedule tick, running alongside, poll and write nothing, for one read', async () => {
    // The defect: overlapping invocations both moved the same entry, and the address was polled twice as often for 72 hours.
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } } });
    for (let i = 0; i < 40; i++) {
      stack.emulator.seedTask({ ...address(`c${i}`), ...(i % 4 === 0 ? { status: 4, stopReason: 'StartTaskFailed' } : {}) });
      await stack.watch(address(`c${i}`), i % 2 ? stack.clock.now() : undefined);
    }
    const before = { ...stack.dynamodb.counts };
    const tick = stack.clock.now();
    const [first, duplicate] = await Promise.all([stack.run({ tick }), stack.run({ tick })]);
    expect([first.duplicate, duplicate.duplicate].sort()).toEqual([false, true]);
    const ran = first.duplicate ? duplicate : first;
    expect(ran).toMatchObject({ tasksPolled: 40, errors: 0 });
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(40);
    // Five more runs: one entry per run, each polled once per run.
    await every5Minutes(stack, 5);
    const byRun = new Map<string, number>();
    for (const entry of await entries(stack))
      byRun.set(`${entry.address.taskId}@${entry.startTime}`, (byRun.get(`${entry.address.taskId}@${entry.startTime}`) ?? 0) + 1);
    expect([...byRun.values()].every((n) => n === 1)).toBe(true);
    expect(byRun.size).toBe(30);
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(40 + 5 * 30);
    // The duplicate read the tick item and stopped: it wrote nothing (a claim is an UpdateItem).
    expect((stack.dynamodb.counts.GetItem ?? 0) - (before.GetItem ?? 0)).toBeGreaterThanOrEqual(2);
  });

  it('polls each entry once per tick when runs of different ticks overlap (archive:once beside the schedule)', async () => {
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } } });
    for (let i = 0; i < 30; i++) {
      stack.emulator.seedTask({ ...address(`o${i}`), startTime: stack.clock.now() - i * MINUTE });
      await stack.registry.registerRun(address(`o${i}`), stack.clock.now() - i * MINUTE, 'lookup', stack.clock.now());
    }
    // The scheduled run is still polling when the manual run (a later tick) starts beside it.
    stack.emulator.inject({ kind: 'latency', latencyMs: 40, action: 'GetSegmentTask' });
    const tick = stack.clock.now();
    const scheduled = stack.run({ tick, concurrency: 2 });
    while (stack.emulator.callsOf('GetSegmentTask').length < 4) await new Promise((resolve) => setTimeout(resolve, 10));
    const manual = stack.run({ tick: tick + 1, concurrency: 2 });
    const summaries = await Promise.all([scheduled, manual]);
    expect(summaries.map((s) => s.duplicate)).toEqual([false, false]);
    const calls = stack.emulator.callsOf('GetSegmentTask').map((c) => c.query.TaskId);
    const perTask = new Map<string, number>();
    for (const id of calls) perTask.set(id!, (perTask.get(id!) ?? 0) + 1);
    // Each tick polls a running task at most once: never three times, and the two runs together cover all 30.
    expect(perTask.size).toBe(30);
    expect(Math.max(...perTask.values())).toBeLessThanOrEqual(2);
    expect(summaries[0]!.tasksPolled + summaries[1]!.tasksPolled).toBe(calls.length);
    for (let i = 0; i < 30; i++) expect((await stack.archive.timeline(run(`o${i}`, tick - i * MINUTE))).length).toBe(1);
    expect(await entries(stack)).toHaveLength(30);
  });

  it('writes no secret into the archive or the registry', async () => {
    stack = await startArchiverStack({ emulator: { echoStorageSecrets: true } });
    stack.emulator.seedTask({ ...address('s1'), storageConfig: { Type: 2, CustomConfig: { Bucket: 'b', ...STORAGE_SECRETS } } });
    await stack.watch(address('s1'));
    await stack.run();
    const everything = [...(await stack.dump()).entries()].join('\n');
    expect(everything).toContain('"Bucket":"b"');
    for (const secret of ALL_SECRETS) expect(everything).not.toContain(secret);
  });

  it('stops taking work when the time budget runs low, and the next run resumes with the longest overdue', async () => {
    stack = await startArchiverStack();
    // Each registered i minutes ago by a lookup: due since then in the refresh lane.
    for (let i = 0; i < 20; i++) {
      stack.emulator.seedTask({ ...address(`b${i}`), startTime: stack.clock.now() - HOUR });
      await stack.registry.registerRun(address(`b${i}`), stack.clock.now() - HOUR, 'lookup', stack.clock.now() - i * MINUTE);
    }
    let budget = 5;
    const partial = await stack.run({ concurrency: 1, timeLeftMs: () => (budget-- > 0 ? 1 : 0), safetyMs: 1 });
    expect(partial.stoppedEarly).toBe(true);
    expect(partial.tasksPolled).toBeGreaterThanOrEqual(2);
    const polled = partial.tasksPolled;
    // The ones polled are the longest overdue: registered 19, 18, … minutes ago.
    for (let i = 19; i >= 0; i--)
      expect(await stack.archive.latest(run(`b${i}`, stack.clock.now() - HOUR))).toEqual(i > 19 - polled ? expect.anything() : undefined);
    // What it did not reach is counted.
    expect(partial.notReached).toEqual({ ending: 0, first: 0, refresh: 20 - polled, retry: 0 });
    stack.clock.advance(5 * MINUTE);
    const rest = await stack.run();
    expect(rest).toMatchObject({ tasksPolled: 20, stoppedEarly: false, notReached: { ending: 0, first: 0, refresh: 0, retry: 0 } });
  });

  it('reads the due index a page at a time: a run cut short read only the pages it reached, not the whole registry', async () => {
    // Pages of 10 entries (100 deployed): 105 entries are ten full pages and a part.
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } }, registryPageSize: 10 });
    const start = stack.clock.now() - HOUR;
    await Promise.all(
      Array.from({ length: 105 }, (_, i) => {
        stack.emulator.seedTask({ ...address(`p${i}`, 'pages'), startTime: start + i });
        return stack.registry.registerRun(address(`p${i}`, 'pages'), start + i, 'lookup', stack.clock.now());
      }),
    );
    const queries = stack.dynamodb.counts.Query ?? 0;
    // Out of time once 10 entries were asked about: with 8 at a time, at most 17 were taken, from the first 2 pages.
    const polls = () => stack.emulator.callsOf('GetSegmentTask').length;
    const partial = await stack.run({ concurrency: 8, timeLeftMs: () => (polls() < 10 ? 60_000 : 0), safetyMs: 1 });
    expect(partial.stoppedEarly).toBe(true);
    // The count of the refresh lane, the three empty stretches ahead of it, the 2 pages of it reached (not its 11), then one
    // count of what is left per lane.
    expect((stack.dynamodb.counts.Query ?? 0) - queries).toBeLessThanOrEqual(1 + 3 + 2 + 4);
    expect(partial.notReached.refresh).toBe(105 - partial.tasksPolled);
    stack.clock.advance(5 * MINUTE);
    const full = await stack.run({ concurrency: 16 });
    expect(full).toMatchObject({ tasksPolled: 105, errors: 0 });
  }, 60_000);
});

describe('archiver poll policy', () => {
  /** 10 running tasks a lookup registered, and the emulator's GetSegmentTask calls over an hour of 5-minute runs. */
  async function callsInAnHour(refreshCallsPerSecond: number): Promise<{ calls: number; targets: number[] }> {
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } } });
    for (let i = 0; i < 10; i++) {
      stack.emulator.seedTask({ ...address(`r${i}`), maxIdleTime: 86_400 });
      await stack.registry.registerRun(address(`r${i}`), stack.clock.now(), 'lookup', stack.clock.now());
    }
    const summaries = [await stack.run({ refreshCallsPerSecond })];
    for (let i = 0; i < 12; i++) {
      stack.clock.advance(5 * MINUTE);
      summaries.push(await stack.run({ refreshCallsPerSecond }));
    }
    return { calls: stack.emulator.callsOf('GetSegmentTask').length, targets: summaries.map((s) => s.refreshTargetMs) };
  }

  it('asks a few running runs again on every run when the share allows it', async () => {
    const { calls, targets } = await callsInAnHour(6);
    expect(targets.every((t) => t === 5 * MINUTE)).toBe(true);
    expect(calls).toBe(10 * 13);
  });

  it('asks a running run again no sooner than nine tenths of its last interval when the load falls', async () => {
    // Prepare: 10 running runs; the first archiver run's share gives them 25 minutes (10 runs at 1 call in 150 s).
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } } });
    for (let i = 0; i < 10; i++) {
      stack.emulator.seedTask({ ...address(`f${i}`), maxIdleTime: 86_400 });
      await stack.registry.registerRun(address(`f${i}`), stack.clock.now(), 'lookup', stack.clock.now());
    }
    const first = await stack.run({ refreshCallsPerSecond: 10 / 1_500 });
    // Act: then the load falls (the share allows 5 minutes) for 80 minutes of 5-minute runs.
    const targets: number[] = [];
    for (let i = 0; i < 16; i++) {
      stack.clock.advance(5 * MINUTE);
      targets.push((await stack.run({ refreshCallsPerSecond: 6 })).refreshTargetMs);
    }
    // Assess: asked at 0, then after 25 minutes (as given), 22.5 (the 50-minute run) and 20.25 (the 75-minute run): 4 asks
    // each, where every 5 minutes from the 25-minute run would have been 12.
    expect(first.refreshTargetMs).toBe(25 * MINUTE);
    expect(targets.every((t) => t === 5 * MINUTE)).toBe(true);
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(10 * 4);
  });

  /** An hour of 5-minute runs; the GetSegmentTask calls for each TaskId. */
  async function callsPerTaskInAnHour(s: ArchiverStack): Promise<Record<string, number>> {
    await s.run();
    await every5Minutes(s, 12);
    const calls: Record<string, number> = {};
    for (const call of s.emulator.callsOf('GetSegmentTask')) calls[call.query.TaskId!] = (calls[call.query.TaskId!] ?? 0) + 1;
    return calls;
  }

  it('asks the running runs of an app not seen reusing TaskIds every 20 minutes, not on every run', async () => {
    // Prepare: three running runs a lookup registered, nothing else archived of their TaskIds.
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } }, noReuseRefreshMs: 20 * MINUTE });
    for (const taskId of ['n1', 'n2', 'n3']) {
      stack.emulator.seedTask({ ...address(taskId), maxIdleTime: 86_400 });
      await stack.registry.registerRun(address(taskId), stack.clock.now(), 'lookup', stack.clock.now());
    }
    // Act
    const calls = await callsPerTaskInAnHour(stack);
    // Assess: at 0, 20, 40 and 60 minutes; the app is not marked.
    expect(calls).toEqual({ n1: 4, n2: 4, n3: 4 });
    expect(await stack.archive.reusesTaskIds(APP)).toBe(false);
  });

  it("asks every run of an app on every run once a TaskId of it had two runs, and not another app's", async () => {
    // Prepare: TaskId u ran before (archived, ended); a new run of it, a first run of v beside it, and one of another app.
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } }, noReuseRefreshMs: 20 * MINUTE });
    const now = stack.clock.now();
    const ended = { StartTime: now - 3 * HOUR, EndTime: now - 2 * HOUR, Status: 3 };
    await stack.archive.record(run('u', now - 3 * HOUR), { task: ended, capturedAt: now - 2 * HOUR, source: 'archiver', final: true });
    const other = { appId: 'app-2', roomId: 'room-1', taskId: 'x' };
    for (const ids of [address('v'), address('u'), other]) {
      stack.emulator.seedTask({ ...ids, maxIdleTime: 86_400 });
      await stack.registry.registerRun(ids, now, 'lookup', now);
    }
    // Act
    const calls = await callsPerTaskInAnHour(stack);
    // Assess: u's first ask found the earlier run and marked the app: u and v are asked on every run; x every 20 minutes.
    expect(await stack.archive.reusesTaskIds(APP)).toBe(true);
    expect(await stack.archive.reusesTaskIds('app-2')).toBe(false);
    expect(calls).toEqual({ u: 13, v: 13, x: 4 });
  });

  it('finds a reused TaskId on a later ask when the run index could not be read at the first, with no error', async () => {
    // Prepare: TaskId u ran before (archived); a new run of it a lookup registered; the bucket's LISTs fail at first.
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } }, noReuseRefreshMs: 20 * MINUTE });
    const now = stack.clock.now();
    const ended = { StartTime: now - 3 * HOUR, EndTime: now - 2 * HOUR, Status: 3 };
    await stack.archive.record(run('u', now - 3 * HOUR), { task: ended, capturedAt: now - 2 * HOUR, source: 'archiver', final: true });
    stack.emulator.seedTask({ ...address('u'), maxIdleTime: 86_400 });
    await stack.registry.registerRun(address('u'), now, 'lookup', now);
    stack.s3.inject({ kind: 'http5xx', operation: 'LIST' });
    // Act: the first run, then 40 minutes of runs with the bucket well.
    const first = await stack.run();
    const markedAtFirst = await stack.archive.reusesTaskIds(APP);
    stack.s3.clearFaults();
    const later = await every5Minutes(stack, 8);
    // Assess: no error counted; u waited as a run of an unmarked app until its ask at 20 minutes found the earlier run,
    // marked the app, and from then on u was asked on every run.
    expect(first.errors).toBe(0);
    expect(markedAtFirst).toBe(false);
    expect(later.map((summary) => summary.tasksPolled)).toEqual([0, 0, 0, 1, 1, 1, 1, 1]);
    expect(await stack.archive.reusesTaskIds(APP)).toBe(true);
  });

  it("asks the app's other runs on the next tick once it is marked, not when their spaced ask would have come", async () => {
    // Prepare: T1 and T2 of one app, both asked at 0 (the app not marked); T1 starts again at 8 minutes.
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } }, noReuseRefreshMs: 20 * MINUTE });
    for (const taskId of ['t1', 't2']) {
      stack.emulator.seedTask({ ...address(taskId), maxIdleTime: 86_400 });
      await stack.registry.registerRun(address(taskId), stack.clock.now(), 'lookup', stack.clock.now());
    }
    await stack.run();
    await every5Minutes(stack, 1);
    stack.clock.advance(3 * MINUTE);
    stack.emulator.seedTask({ ...address('t1'), maxIdleTime: 86_400 });
    await stack.registry.registerPending(address('t1'), 'callback', stack.clock.now());
    const before = stack.emulator.callsOf('GetSegmentTask').filter((call) => call.query.TaskId === 't2').length;
    // Act: the runs at 10 and 15 minutes.
    stack.clock.advance(2 * MINUTE);
    await stack.run();
    await every5Minutes(stack, 1);
    // Assess: at 10 the callback's registration showed T1's new run and its ask marked the app; at 15, T2 was asked.
    expect(await stack.archive.reusesTaskIds(APP)).toBe(true);
    expect(stack.emulator.callsOf('GetSegmentTask').filter((call) => call.query.TaskId === 't2').length).toBe(before + 1);
  });

  it('marks the app when Volcengine shows a newer run of a TaskId it watches', async () => {
    // Prepare: a watched run of w, asked once; then w runs again (a new run replaces it in Volcengine's answers).
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } }, noReuseRefreshMs: 20 * MINUTE });
    stack.emulator.seedTask({ ...address('w'), maxIdleTime: 86_400 });
    await stack.registry.registerRun(address('w'), stack.clock.now(), 'lookup', stack.clock.now());
    await stack.run();
    expect(await stack.archive.reusesTaskIds(APP)).toBe(false);
    stack.clock.advance(20 * MINUTE);
    stack.emulator.seedTask({ ...address('w'), maxIdleTime: 86_400 });
    // Act
    await stack.run();
    // Assess: the app is marked, and the new run is asked again on the next run.
    expect(await stack.archive.reusesTaskIds(APP)).toBe(true);
    const before = stack.emulator.callsOf('GetSegmentTask').length;
    await every5Minutes(stack, 1);
    expect(stack.emulator.callsOf('GetSegmentTask').length).toBe(before + 1);
  });

  it('asks a running run on every run when its interval is one schedule, on instances 2 s ahead and behind the schedule', async () => {
    // Prepare: a running run; the schedule's runs land on two instances in turn, one clock ahead of it, one behind.
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } } });
    stack.emulator.seedTask({ ...address('skewed'), maxIdleTime: 86_400 });
    await stack.registry.registerRun(address('skewed'), stack.clock.now() - MINUTE, 'lookup', stack.clock.now() - MINUTE);
    const skewed = (ms: number) => () => stack.clock.now() + ms;
    // Act: an hour of schedule ticks.
    for (let i = 0; i < 13; i++, stack.clock.advance(5 * MINUTE))
      await stack.run({ tick: stack.clock.now(), now: skewed(i % 2 === 0 ? 2_000 : -2_000) });
    // Assess: one ask per tick (a tick whose clock runs behind still takes what is due by the tick).
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(13);
  });

  it('spreads the refreshes over the interval the share gives them when it cannot ask every run each time', async () => {
    // 10 runs at 0.005 calls/s for refreshes: each asked again after 2,000 s, on the run at 35 minutes.
    const { calls, targets } = await callsInAnHour(0.005);
    expect(targets[0]).toBe(2_000_000);
    expect(calls).toBe(10 * 2);
  });

  /** An archiver run that can ask Volcengine `calls` times (one entry at a time), then runs out of time. */
  const runAsking = (s: ArchiverStack, calls: number) => {
    const before = s.emulator.callsOf('GetSegmentTask').length;
    const asked = () => s.emulator.callsOf('GetSegmentTask').length - before;
    return s.run({ concurrency: 1, timeLeftMs: () => (asked() < calls ? 60_000 : 0), safetyMs: 1 });
  };

  it('gets a running run its final capture while new registrations alone would take the whole share, tick after tick', async () => {
    // Prepare: a run whose window closes in 70 minutes (its final margin begins in 40), due for a refresh now; every
    // tick brings 15 registrations Volcengine never shows a run for (asked again every 15 minutes), and a tick can ask 10.
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } } });
    const start = stack.clock.now() - 72 * HOUR + 70 * MINUTE;
    stack.emulator.seedTask({ ...address('long'), startTime: start, maxIdleTime: 86_400 });
    await stack.registry.registerRun(address('long'), start, 'lookup', stack.clock.now());
    // Act: a run every 5 minutes until well after the window closed.
    let missed = 0;
    for (let tick = 0; tick < 18; tick++) {
      for (let i = 0; i < 15; i++) await stack.registry.registerPending(address(`ghost-${tick}-${i}`), 'callback', stack.clock.now());
      missed += (await runAsking(stack, 10)).finalSnapshotsMissed;
      stack.clock.advance(5 * MINUTE);
    }
    // Assess: the run was refreshed in turn and captured inside its final margin.
    const timeline = await stack.archive.timeline(run('long', start));
    expect(timeline.at(-1)).toMatchObject({ Final: true });
    expect(missed).toBe(0);
  });

  it('serves closing windows, late refreshes near their close, first asks, refreshes, repeat asks, when short of share', async () => {
    // Prepare: per lane 3 entries: windows closing within the final margin (c); runs whose window closes in 80 minutes and
    // whose refresh is late by more than its interval (5 min) and the grace (15 min) (o); new registrations (f); runs as
    // late far from their close (p); runs just due for a refresh (r); registrations asked before (y).
    stack = await startArchiverStack({ emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } } });
    const now = stack.clock.now();
    const seedRun = async (id: string, startTime: number, due: Due) => {
      stack.emulator.seedTask({ ...address(id), startTime, maxIdleTime: 86_400 });
      await stack.registry.registerRun(address(id), startTime, 'archiver', now - HOUR, due);
    };
    for (let i = 0; i < 3; i++) {
      await seedRun(`c${i}`, now - 72 * HOUR + 20 * MINUTE, { dueAt: now, lane: 'ending' });
      await seedRun(`o${i}`, now - 72 * HOUR + 80 * MINUTE, { dueAt: now - 30 * MINUTE, lane: 'refresh' });
      await seedRun(`p${i}`, now - HOUR, { dueAt: now - 30 * MINUTE + 1, lane: 'refresh' });
      await seedRun(`r${i}`, now - HOUR, { dueAt: now - MINUTE, lane: 'refresh' });
      stack.emulator.seedTask({ ...address(`f${i}`), maxIdleTime: 86_400 });
      await stack.registry.registerPending(address(`f${i}`), 'callback', now);
      await stack.registry.registerPending(address(`y${i}`), 'callback', now - HOUR);
      const asked = await stack.registry.claim(retryRef(`y${i}`), now - HOUR, 'earlier', now - HOUR, now - 45 * MINUTE);
      await stack.registry.reschedule(asked!, now - HOUR, { dueAt: now - 45 * MINUTE, lane: 'retry' });
    }
    // Act: an archiver run that can ask 3 times, then one that can ask 18 (the next tick).
    const partial = await runAsking(stack, 3);
    stack.clock.advance(MINUTE);
    await runAsking(stack, 18);
    // Assess: each lane in the reading order (closing windows are asked on every run); what the first run left is counted.
    const asked = stack.emulator.callsOf('GetSegmentTask').map((call) => String(call.query.TaskId)[0]);
    expect(asked.join('')).toBe('ccc' + 'cccooofffppprrryyy');
    expect(partial.notReached).toEqual({ ending: 0, first: 3, refresh: 9, retry: 3 });
  });
});
