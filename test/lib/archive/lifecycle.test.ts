/**
 * The task lifecycle as production lives it: the archiver every five minutes for days, TaskIds
 * reused for new runs, registrations that never become tasks, registrations before the start,
 * registries past one LIST page. Each case here was a defect reproduced on the earlier design.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { countEntries } from '../../../lib/archive/registry.ts';
import { HOUR } from '../../support/clock.ts';
import { RUN_INTERVAL_MS, startLifecycleStack, type LifecycleStack } from '../../support/lifecycle-stack.ts';

const APP = 'app-life';
const ROOM = 'room-life';
const MINUTE = 60_000;
const RUNS_PER_HOUR = 12;
let stack: LifecycleStack;
afterEach(async () => {
  await stack?.stop();
});

const ids = (taskId: string) => ({ AppId: APP, RoomId: ROOM, TaskId: taskId });
const address = (taskId: string) => ({ appId: APP, roomId: ROOM, taskId });
const timelineOf = async (taskId: string, startTime?: number) =>
  stack.action('ListSegmentTaskSnapshots', { ...ids(taskId), ...(startTime === undefined ? {} : { StartTime: String(startTime) }) });
const registrySize = () => countEntries(stack.registry);

describe('task lifecycle, stepped run by run', () => {
  it('archives every run of a reused TaskId on its own (auto segmentation: the UserId comes back)', async () => {
    // Prepare: user u1 joins; Volcengine reports a segment; the archiver follows the run.
    stack = await startLifecycleStack();
    const first = stack.emulator.seedTask({ ...address('u1'), auto: true });
    await stack.runEvery5Minutes(1, async () => void (await stack.callback(first)));
    await stack.runEvery5Minutes(RUNS_PER_HOUR);
    stack.emulator.userLeaves(APP, ROOM, 'u1');
    await stack.runEvery5Minutes(3);
    // Act: two hours later the same user rejoins: a new run under the same TaskId.
    await stack.runEvery5Minutes(2 * RUNS_PER_HOUR);
    const second = stack.emulator.seedTask({ ...address('u1'), auto: true });
    await stack.runEvery5Minutes(1, async () => void (await stack.callback(second, 1)));
    await stack.runEvery5Minutes(RUNS_PER_HOUR);
    stack.emulator.userLeaves(APP, ROOM, 'u1');
    await stack.runEvery5Minutes(3);
    // Assess: both runs are archived, each ending in its own final, terminal state.
    const runs = await stack.action('ListArchivedSegmentTasks', { AppId: APP, RoomId: ROOM });
    expect(runs.json.Result.Runs).toEqual([
      { TaskId: 'u1', StartTime: second.startTime },
      { TaskId: 'u1', StartTime: first.startTime },
    ]);
    for (const run of [first, second]) {
      const snapshots = (await timelineOf('u1', run.startTime)).json.Result.Snapshots;
      expect(snapshots.every((s: any) => s.SegmentTask.StartTime === run.startTime)).toBe(true);
      expect(snapshots.at(-1)).toMatchObject({ Final: true, SegmentTask: { Status: 3, StopReason: 'UserDisconnect' } });
    }
    expect(await registrySize()).toBe(0);
  });

  it('answers a lookup about the run Volcengine shows, not an archived earlier run', async () => {
    stack = await startLifecycleStack();
    const first = stack.emulator.seedTask({ ...address('u2'), auto: true });
    await stack.runEvery5Minutes(1, async () => void (await stack.callback(first)));
    stack.emulator.userLeaves(APP, ROOM, 'u2');
    await stack.runEvery5Minutes(2, async () => void (await stack.action('GetSegmentTask', ids('u2'))));
    // The user rejoins; the lookup instance had the first run's terminal answer in memory.
    await stack.runEvery5Minutes(1);
    const second = stack.emulator.seedTask({ ...address('u2'), auto: true });
    stack.clock.advance(MINUTE);
    const answer = await stack.action('GetSegmentTask', ids('u2'));
    expect(answer.headers['X-Answer-Source']).toBe('volcengine');
    expect(answer.json.Result.SegmentTask).toMatchObject({ StartTime: second.startTime, Status: 2 });
  });

  it('keys the terminal-answer memory by Version and forgets it after LOOKUP_TERMINAL_TTL_MS', async () => {
    stack = await startLifecycleStack({ lookupEnv: { LOOKUP_TERMINAL_TTL_MS: '30000' } });
    stack.emulator.seedTask({ ...address('done'), status: 3, stopReason: 'StopByAPI', endTime: stack.clock.now() });
    await stack.action('GetSegmentTask', ids('done'), '2023-11-01');
    const sameVersion = await stack.action('GetSegmentTask', ids('done'), '2023-11-01');
    const otherVersion = await stack.action('GetSegmentTask', ids('done'), '2022-06-01');
    stack.clock.advance(31_000);
    const afterTtl = await stack.action('GetSegmentTask', ids('done'), '2023-11-01');
    expect([sameVersion, otherVersion, afterTtl].map((r) => r.headers['X-Answer-Source'])).toEqual(['cache', 'volcengine', 'volcengine']);
    expect(stack.pollsOf('done')).toBe(3);
  });

  it('waits for a task registered before its announced StartTime, then archives it', async () => {
    stack = await startLifecycleStack();
    const startTime = stack.clock.now() + 2 * HOUR;
    const watch = await stack.action('WatchSegmentTask', { ...ids('ahead'), StartTime: String(startTime) });
    expect(watch.statusCode).toBe(200);
    // Act: two hours of runs before it starts, then it runs for an hour and stops.
    await stack.runEvery5Minutes(2 * RUNS_PER_HOUR);
    const task = stack.emulator.seedTask({ ...address('ahead'), startTime: stack.clock.now() + 30_000 });
    await stack.runEvery5Minutes(RUNS_PER_HOUR);
    stack.emulator.streamsGoIdle(APP, ROOM, 'ahead');
    await stack.runEvery5Minutes(3);
    const snapshots = (await timelineOf('ahead')).json.Result.Snapshots;
    expect(snapshots.at(-1)).toMatchObject({
      Final: true,
      SegmentTask: { StartTime: task.startTime, Status: 3, StopReason: 'IdleTimeOut' },
    });
    expect(await registrySize()).toBe(0);
  });

  it('asks about a registration that never becomes a task at most every 15 minutes, and lets it go after 72 hours', async () => {
    stack = await startLifecycleStack();
    await stack.action('WatchSegmentTask', ids('ghost'));
    const registeredAt = stack.clock.now();
    let goneAt: number | undefined;
    await stack.runEvery5Minutes(80 * RUNS_PER_HOUR, async () => {
      if (goneAt === undefined && (await registrySize()) === 0) goneAt = stack.clock.now();
    });
    expect(stack.pollsOf('ghost')).toBeLessThanOrEqual(72 * 4 + 1);
    expect(stack.pollsOf('ghost')).toBeGreaterThanOrEqual(72 * 4 - 1);
    expect(goneAt).toBeDefined();
    expect(goneAt! - registeredAt).toBeGreaterThanOrEqual(72 * HOUR);
    expect(goneAt! - registeredAt).toBeLessThanOrEqual(72 * HOUR + 15 * MINUTE);
    const outcome = await stack.action('ListSegmentTaskSnapshots', ids('ghost'));
    expect(outcome.statusCode).toBe(404);
  }, 120_000);

  it('past one page of the due index, polls each due entry at most once per run and starves no running task', async () => {
    // Pages of 10 entries (100 deployed): 120 registrations that never become tasks, then 10 running tasks.
    stack = await startLifecycleStack({ registryPageSize: 10 });
    await Promise.all(
      Array.from({ length: 120 }, (_, i) => stack.registry.registerPending(address(`ghost-${i}`), 'watch', stack.clock.now())),
    );
    for (let i = 0; i < 10; i++) {
      const task = stack.emulator.seedTask({ ...address(`live-${i}`), startTime: stack.clock.now() - HOUR, maxIdleTime: 86_400 });
      await stack.registry.registerRun(address(`live-${i}`), task.startTime, 'lookup', stack.clock.now());
    }
    // Act: six runs, each allowed 140 upstream calls.
    const calls = () => stack.emulator.callsOf('GetSegmentTask').length;
    const budgetOf140Calls = () => {
      const before = calls();
      return { concurrency: 16, timeLeftMs: () => 140 - (calls() - before), safetyMs: 16 };
    };
    const summaries = await stack.runEvery5Minutes(6, undefined, budgetOf140Calls);
    // Assess
    for (let i = 0; i < 10; i++) expect(stack.pollsOf(`live-${i}`)).toBe(6);
    const ghostPolls = Array.from({ length: 120 }, (_, i) => stack.pollsOf(`ghost-${i}`));
    expect(Math.max(...ghostPolls)).toBeLessThanOrEqual(2); // due every 15 minutes: runs 1 (first ask) and 4
    expect(Math.min(...ghostPolls)).toBeGreaterThanOrEqual(1);
    expect(summaries.every((s) => s.tasksPolled <= 130)).toBe(true);
  }, 180_000);

  it('keeps every change of state in capture order, a returning state too, and marks the final capture', async () => {
    stack = await startLifecycleStack();
    const task = stack.emulator.seedTask({ ...address('tl'), maxIdleTime: 86_400 });
    await stack.action('WatchSegmentTask', { ...ids('tl'), StartTime: String(task.startTime) });
    await stack.runEvery5Minutes(2);
    task.duration = 30;
    await stack.runEvery5Minutes(2);
    task.duration = 20;
    await stack.runEvery5Minutes(2);
    // Then nothing changes until the window is about to close.
    await stack.runEvery5Minutes(72 * RUNS_PER_HOUR - 6);
    const snapshots = (await timelineOf('tl')).json.Result.Snapshots;
    expect(snapshots.map((s: any) => [s.SegmentTask.Duration, s.Final])).toEqual([
      [20, false],
      [30, false],
      [20, false],
      [20, true],
    ]);
    expect(await registrySize()).toBe(0);
  }, 180_000);

  it('keeps a run watched until its window closes, whatever overlapping runs with other margins captured', async () => {
    stack = await startLifecycleStack();
    const start = stack.clock.now();
    stack.emulator.seedTask({ ...address('overlap'), startTime: start, maxIdleTime: 86_400 });
    await stack.action('WatchSegmentTask', { ...ids('overlap'), StartTime: String(start) });
    stack.clock.advance(71 * HOUR + 45 * MINUTE); // inside the scheduled run's 30-minute final margin
    // archive:once with a 5-minute margin, a second later, records the same state as not final, and asks again in 5 minutes...
    const clock = stack.clock.now();
    await stack.run({ now: () => clock + 1_000, finalMarginMs: 5 * MINUTE });
    expect((await timelineOf('overlap')).json.Result.Snapshots.at(-1)).toMatchObject({ Final: false });
    // ...then the scheduled runs take it when it is due again (71:55), inside their own margin: the capture is final.
    await stack.runEvery5Minutes(2);
    expect(await registrySize()).toBe(1);
    expect((await timelineOf('overlap')).json.Result.Snapshots.at(-1)).toMatchObject({ Final: true });
    // They go on polling until the window closes, and let it go at the close.
    const [closing] = await stack.runEvery5Minutes(1);
    expect(closing).toMatchObject({ tasksRetired: 1, finalSnapshotsMissed: 0 });
    expect(await registrySize()).toBe(0);
  });

  it('refuses a StartTime that is not epoch milliseconds, and survives one from Volcengine', async () => {
    stack = await startLifecycleStack();
    const seconds = await stack.action('WatchSegmentTask', { ...ids('s1'), StartTime: String(Math.floor(stack.clock.now() / 1000)) });
    const fourteen = await stack.action('WatchSegmentTask', { ...ids('s2'), StartTime: '99999999999999' });
    expect([seconds.statusCode, fourteen.statusCode]).toEqual([400, 400]);
    expect(seconds.json.ResponseMetadata.Error).toMatchObject({ Code: 'InvalidParameter' });
    expect(seconds.json.ResponseMetadata.Error.Message).toContain('StartTime');
    // Volcengine answers a StartTime in seconds (schema drift): the run goes on, the task is kept.
    const drifting = stack.emulator.seedTask({ ...address('drift'), reportedStartTime: Math.floor(stack.clock.now() / 1000) });
    await stack.action('WatchSegmentTask', ids('drift'));
    const [summary] = await stack.runEvery5Minutes(1);
    expect(summary).toMatchObject({ schemaDrift: 1 });
    expect(await registrySize()).toBe(1);
    delete drifting.reportedStartTime;
    drifting.status = 3;
    drifting.stopReason = 'StopByAPI';
    drifting.endTime = stack.clock.now();
    await stack.runEvery5Minutes(3);
    expect((await timelineOf('drift')).json.Result.Snapshots.at(-1)).toMatchObject({ Final: true, SegmentTask: { Status: 3 } });
    expect(await registrySize()).toBe(0);
  });
});

describe('a run its callbacks keep naming, minute by minute (Volcengine sends one per segment while it runs)', () => {
  const REFRESH_MS = 20 * MINUTE;
  /** MaxIdleTime (the emulator's 180 s) plus ARCHIVE_IDLE_MARGIN_MS's default (2 min): a run silent this long has likely ended. */
  const LIKELY_ENDED_MS = 180_000 + 2 * MINUTE;
  let minutesPassed = 0;
  let sequence = 0;

  /** `count` minutes: each a callback for every task in `streaming`, through the callback function; the archiver on every fifth. */
  async function minutes(count: number, streaming: Array<ReturnType<LifecycleStack['emulator']['seedTask']>>) {
    for (let i = 0; i < count; i++) {
      stack.clock.advance(MINUTE);
      minutesPassed++;
      for (const task of streaming) expect((await stack.callback(task, ++sequence)).statusCode).toBe(200);
      if (minutesPassed % 5 === 0) await stack.run();
    }
  }
  const at = (minute: number) => stack.clock.now() - (minutesPassed - minute) * MINUTE;
  const snapshotsOf = async (taskId: string, startTime: number) => (await timelineOf(taskId, startTime)).json.Result.Snapshots;
  // The run is found on the first schedule (minute 5) and refreshed on minutes 25, 45, 65, 85…; its streams stop on minute 70,
  // 15 minutes before the refresh after.
  const STREAMS_STOP = 70;
  const start = async (options: Parameters<typeof startLifecycleStack>[0] = {}) => {
    stack = await startLifecycleStack({ refreshMs: REFRESH_MS, ...options });
    minutesPassed = 0;
    sequence = 0;
  };

  it('polls a run with a callback every minute for two hours about every ARCHIVE_REFRESH_MS, not on every schedule', async () => {
    await start();
    const task = stack.emulator.seedTask({ ...address('busy'), auto: true });
    await minutes(120, [task]);
    // The first capture, the one that finds it already watched, then a refresh every 20 minutes (24 schedules: 24 polls before).
    expect(stack.pollsOf('busy')).toBeLessThanOrEqual(120 / 20 + 2);
    expect(stack.pollsOf('busy')).toBeGreaterThanOrEqual(120 / 20);
    expect((await snapshotsOf('busy', task.startTime)).at(-1)).toMatchObject({ SegmentTask: { Status: 2 } });
  });

  it("captures such a run's end within MaxIdleTime + the margin + one schedule of its last callback", async () => {
    await start();
    const task = stack.emulator.seedTask({ ...address('quiet'), auto: true });
    await minutes(STREAMS_STOP, [task]);
    stack.emulator.streamsGoIdle(APP, ROOM, 'quiet');
    await minutes(30, []);
    const ending = (await snapshotsOf('quiet', task.startTime)).find((s: any) => s.SegmentTask.Status === 3);
    expect(ending).toMatchObject({ Final: true, SegmentTask: { StopReason: 'IdleTimeOut' } });
    expect(Date.parse(ending.CapturedAt)).toBeLessThanOrEqual(at(STREAMS_STOP) + LIKELY_ENDED_MS + RUN_INTERVAL_MS);
    expect(await registrySize()).toBe(0);
  });

  it('archives the end of a run whose TaskId a new run takes 8 minutes after its streams stopped, and finds the new run', async () => {
    await start();
    const first = stack.emulator.seedTask({ ...address('back'), auto: true });
    await minutes(STREAMS_STOP, [first]);
    stack.emulator.streamsGoIdle(APP, ROOM, 'back');
    await minutes(8, []);
    const second = stack.emulator.seedTask({ ...address('back'), auto: true });
    await minutes(30, [second]);
    stack.emulator.streamsGoIdle(APP, ROOM, 'back');
    await minutes(30, []);
    const [firstRun, secondRun] = [await snapshotsOf('back', first.startTime), await snapshotsOf('back', second.startTime)];
    expect(firstRun.at(-1)).toMatchObject({
      Final: true,
      SegmentTask: { StartTime: first.startTime, Status: 3, StopReason: 'IdleTimeOut' },
    });
    expect(Date.parse(secondRun[0].CapturedAt) - second.startTime).toBeLessThanOrEqual(RUN_INTERVAL_MS);
    expect(secondRun.at(-1)).toMatchObject({ Final: true, SegmentTask: { StartTime: second.startTime, Status: 3 } });
    expect(await registrySize()).toBe(0);
  });

  it("finds a new run whose callbacks begin before the watch is due on the watch's next schedule, not the next refresh", async () => {
    await start();
    const first = stack.emulator.seedTask({ ...address('rejoin'), auto: true });
    await minutes(STREAMS_STOP, [first]);
    // The user leaves (the run ends at once) and rejoins two minutes later: no schedule runs in between.
    stack.emulator.userLeaves(APP, ROOM, 'rejoin');
    await minutes(2, []);
    const second = stack.emulator.seedTask({ ...address('rejoin'), auto: true });
    await minutes(10, [second]);
    const secondRun = await snapshotsOf('rejoin', second.startTime);
    // (Volcengine showed the first run's end only for the two minutes between two schedules: no poll could see it.)
    expect(Date.parse(secondRun[0].CapturedAt)).toBeLessThanOrEqual(second.startTime + RUN_INTERVAL_MS);
  });

  it('loses nothing when a callback dies between its two writes: a first sighting, and a new burst, are each found', async () => {
    let crashes = 1;
    await start({
      callbackRegistry: (registry) => ({
        continueSighting: (...args) => registry.continueSighting(...args),
        registerPending: async (...args) => {
          if (crashes-- > 0) throw new Error('the callback instance died before its second write');
          return registry.registerPending(...args);
        },
      }),
    });
    const first = stack.emulator.seedTask({ ...address('crash'), auto: true });
    // The first delivery dies before its write (answered 5xx, Volcengine delivers the next segment's a minute later).
    stack.clock.advance(MINUTE);
    minutesPassed++;
    expect((await stack.callback(first, ++sequence)).statusCode).toBeGreaterThanOrEqual(500);
    await minutes(STREAMS_STOP - 1, [first]);
    stack.emulator.userLeaves(APP, ROOM, 'crash');
    await minutes(2, []);
    crashes = 1;
    const second = stack.emulator.seedTask({ ...address('crash'), auto: true });
    stack.clock.advance(MINUTE);
    minutesPassed++;
    expect((await stack.callback(second, ++sequence)).statusCode).toBeGreaterThanOrEqual(500);
    await minutes(9, [second]);
    const firstRun = await snapshotsOf('crash', first.startTime);
    const secondRun = await snapshotsOf('crash', second.startTime);
    expect(Date.parse(firstRun[0].CapturedAt)).toBeLessThanOrEqual(first.startTime + RUN_INTERVAL_MS);
    expect(Date.parse(secondRun[0].CapturedAt)).toBeLessThanOrEqual(second.startTime + RUN_INTERVAL_MS);
  });
});
