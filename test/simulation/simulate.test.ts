/**
 * The capacity simulation: the real lookup, callback and archiver code on a virtual clock, over
 * the lifecycle cases users meet daily and load above capacity.
 */
import { describe, expect, it } from 'vitest';
import { ScenarioSchema } from '../../simulation/scenario.ts';
import { simulate } from '../../simulation/simulate.ts';
import {
  aboveCapacity,
  announcedWhileWatched,
  capacity,
  endingNearWindowClose,
  ghosts,
  ISSUE_FAULTS,
  registrationBeforeStart,
  taskIdReuse,
  withFaults,
} from '../support/scenarios.ts';

const run = (input: unknown) => simulate(ScenarioSchema.parse(input));

/** What must hold of every scenario, with faults or without: nothing lost, repeated, orphaned or answered about the wrong run. */
const NOTHING_LOST = {
  runsDiscoveredNotSettled: 0,
  runsEndMissed: 0,
  runsLost: 0,
  duplicateTimelineEntries: 0,
  orphanedRegistrations: 0,
  wrongRunLookups: 0,
};

describe('simulate', () => {
  it('archives every run of reused TaskIds on its own, and answers every lookup about the right run', async () => {
    const result = await run(taskIdReuse(60, 4));
    expect(result.summary).toMatchObject({ ...NOTHING_LOST, runsInScenario: 240, runsDiscovered: 240, archiverErrors: 0 });
    const runsOfOneUser = result.runs.filter((r) => r.RoomId === 'room-0' && r.TaskId === 'user-0');
    expect(runsOfOneUser).toHaveLength(4);
    expect(runsOfOneUser.every((r) => r.Terminal && r.Final)).toBe(true);
    expect(new Set(runsOfOneUser.map((r) => r.StartTime)).size).toBe(4);
    expect(result.lookups).toHaveLength(480);
    // Lookups between two runs answer the finished run (Volcengine still shows it), never the next one early.
    expect(result.lookups.filter((l) => l.Status === 3 && l.StartTime === l.ExpectedStartTime).length).toBeGreaterThan(100);
    expect(result.registry).toBe(0);
  });

  it('asks about 300 registrations that never become tasks at most every 15 minutes, and lets them go after 72 hours', async () => {
    const result = await run(ghosts(300));
    expect(result.summary).toMatchObject({ ...NOTHING_LOST, ghosts: 300, ghostsLeftInRegistry: 0, archiverErrors: 0 });
    expect(result.summary.ghostMinPollIntervalMinutes).toBeGreaterThanOrEqual(15);
    expect(result.summary.ghostMaxPolls).toBeLessThanOrEqual(72 * 4 + 1);
    expect(result.finalSnapshotsMissed).toBe(0);
  }, 240_000);

  it('waits for runs announced ahead of their start, and lets go of those that never start', async () => {
    const result = await run(registrationBeforeStart(300));
    expect(result.summary).toMatchObject({ ...NOTHING_LOST, ghostsLeftInRegistry: 0, archiverErrors: 0 });
    expect(result.summary.runsDiscovered).toBe(result.summary.runsInScenario);
    expect(result.summary.ghostMinPollIntervalMinutes).toBeGreaterThanOrEqual(15);
  });

  it('above capacity, serves the nearest deadlines first and misses no final snapshot', async () => {
    // A 60 s Lambda timeout at 1 call/s: about 40 polls per run for 200 runs.
    const result = await run(aboveCapacity(200, 1, 4, 60));
    expect(result.summary).toMatchObject({ runsDiscoveredNotSettled: 0, archiverErrors: 0, upstreamThrottled: 0 });
    expect(result.finalSnapshotsMissed).toBe(0);
    // Each run polls at most ARCHIVE_QPS × (timeout − safety) tasks: the lag grows instead.
    expect(Math.max(...result.polls.map((p) => p.Count))).toBeLessThanOrEqual(72 * 12 + 1);
    expect(result.lag.max).toBeGreaterThan(300);
  }, 120_000);

  it('counts calls per run at a steady load apart from the start, when few runs share the reserve, and the drain', async () => {
    // Prepare: 600 runs an hour of 60 minutes on average, 0.25 refreshes a second: a 40-minute interval once loaded.
    const input = capacity({ runsPerHour: 600, hours: 8, accountQps: 2, archiveQps: 0.5, tailHours: 2 });
    // Act
    const { summary } = await run(input);
    // Assess: the start refreshes its few runs at the shortest interval, so the whole scenario costs more per run.
    expect(summary.upstreamThrottled).toBe(0);
    expect(summary.archiverCallsPerRunSteady).toBeGreaterThan(1);
    expect(summary.archiverCallsPerRunSteady).toBeLessThan(summary.archiverCallsPerRun);
  });

  it('has no steady figure for a scenario whose runs all start at once', async () => {
    const tasks = ['a', 'b'].map((TaskId) => ({ AppId: 'app', RoomId: 'room', TaskId, StartAt: 0, EndAt: 30 }));
    const events = tasks.map((task) => ({ AppId: task.AppId, RoomId: task.RoomId, TaskId: task.TaskId, Kind: 'callback', At: 1 }));
    const { summary } = await run({ hours: 2, tasks, events });
    expect(summary.runsDiscovered).toBe(2);
    expect(summary.archiverCallsPerRunSteady).toBeUndefined();
  });

  it('watches a run announced ahead beside the run running now: both archived, each to its end', async () => {
    // The defect: registration was per address, so the announced run swallowed the running one (or was dropped).
    const result = await run(announcedWhileWatched(100));
    expect(result.summary).toMatchObject({ ...NOTHING_LOST, archiverErrors: 0 });
    expect(result.summary.runsDiscovered).toBe(result.summary.runsInScenario);
    const users = new Map<string, number>();
    for (const archived of result.runs) users.set(archived.TaskId, (users.get(archived.TaskId) ?? 0) + 1);
    expect([...users.values()].filter((runs) => runs === 2).length).toBeGreaterThan(80);
  });

  it('archives the end of runs that end in the last half hour of their window as terminal', async () => {
    // The defect: the final snapshot was taken 30 minutes early and the run retired running.
    const scenario = endingNearWindowClose(40);
    const result = await run(scenario);
    expect(result.summary).toMatchObject({ ...NOTHING_LOST, runsDiscovered: 40 });
    expect(result.runs.every((r) => r.Final)).toBe(true);
    // Every run that ended a whole archiver run (two schedules) before its window closed is archived terminal.
    const endedInTime = scenario.tasks.filter((t) => t.EndAt! + 10 <= t.StartAt + 72 * 60).map((t) => t.TaskId);
    expect(endedInTime.length).toBeGreaterThanOrEqual(25);
    expect(result.runs.filter((r) => endedInTime.includes(r.TaskId)).every((r) => r.Terminal)).toBe(true);
    expect(result.finalSnapshotsMissed).toBe(0);
  });

  it.each([
    ['TaskId reuse', () => taskIdReuse(60, 4)],
    ['runs announced while another is watched', () => announcedWhileWatched(100)],
    ['runs ending in the last half hour of their window', () => endingNearWindowClose(40)],
  ])(
    '%s, under duplicate schedules, crashes, store errors and skewed clocks: nothing lost, repeated or orphaned',
    async (_name, scenario) => {
      const result = await run(withFaults(scenario()));
      expect(result.faults.duplicatedSchedules).toBeGreaterThan(50);
      expect(result.faults.crashes).toBeGreaterThan(50);
      expect(result.faults.storeErrors).toBeGreaterThan(100);
      expect(result.faults.maxSkewMs).toBeGreaterThan(1_000);
      expect(result.faults.maxSkewMs).toBeLessThanOrEqual(ISSUE_FAULTS.clockSkewMs);
      expect(result.summary).toMatchObject(NOTHING_LOST);
      expect(result.summary.runsDiscovered).toBeGreaterThan(0.95 * result.summary.runsInScenario);
      expect(result.finalSnapshotsMissed).toBe(0);
    },
  );

  it('injects the same faults into the same interleavings for the same seed', async () => {
    const [first, second] = [await run(withFaults(taskIdReuse(20, 3))), await run(withFaults(taskIdReuse(20, 3)))];
    expect(second.faults).toEqual(first.faults);
    expect({ ...second.summary, wallSeconds: 0 }).toEqual({ ...first.summary, wallSeconds: 0 });
    expect(second.runs).toEqual(first.runs);
    expect(second.requests).toEqual(first.requests);
  });

  it('enforces the account quota per virtual second: lookups past it are throttled, not answered by magic', async () => {
    const events = Array.from({ length: 80 }, (_, i) => ({ At: 10, Kind: 'lookup', AppId: 'a', RoomId: 'r', TaskId: `t${i}` }));
    const tasks = Array.from({ length: 80 }, (_, i) => ({ AppId: 'a', RoomId: 'r', TaskId: `t${i}`, StartAt: 0, EndAt: null }));
    const result = await run({ hours: 1, tasks, events, env: { LOOKUP_TERMINAL_TTL_MS: '0' } });
    expect(result.summary.upstreamThrottled).toBeGreaterThanOrEqual(20);
    expect(
      result.lookups.filter((l) => l.HttpStatus === 429).length + result.lookups.filter((l) => l.Source === 'archive').length,
    ).toBeGreaterThanOrEqual(20);
  });

  it('refuses a scenario whose runs of one TaskId overlap', () => {
    const overlapping = {
      hours: 1,
      tasks: [
        { AppId: 'a', RoomId: 'r', TaskId: 'u', StartAt: 0, EndAt: 30 },
        { AppId: 'a', RoomId: 'r', TaskId: 'u', StartAt: 20, EndAt: 40 },
      ],
    };
    const parsed = ScenarioSchema.safeParse(overlapping);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toContain('overlap');
  });
});
