/**
 * The capacity simulation: the real lookup, callback and archiver code on a virtual clock, over
 * the lifecycle cases users meet daily and load above capacity.
 */
import { describe, expect, it } from 'vitest';
import { ScenarioSchema } from '../../../lib/simulation/scenario.ts';
import { simulate } from '../../../lib/simulation/simulate.ts';
import { aboveCapacity, ghosts, registrationBeforeStart, taskIdReuse } from '../../support/scenarios.ts';

const run = (input: unknown) => simulate(ScenarioSchema.parse(input));

describe('simulate', () => {
  it('archives every run of reused TaskIds on its own, and answers every lookup about the right run', async () => {
    const result = await run(taskIdReuse(60, 4));
    expect(result.summary).toMatchObject({
      runsInScenario: 240,
      runsDiscovered: 240,
      runsDiscoveredNotSettled: 0,
      wrongRunLookups: 0,
      archiverErrors: 0,
    });
    const runsOfOneUser = result.runs.filter((r) => r.RoomId === 'room-0' && r.TaskId === 'user-0');
    expect(runsOfOneUser).toHaveLength(4);
    expect(runsOfOneUser.every((r) => r.Terminal && r.Final)).toBe(true);
    expect(new Set(runsOfOneUser.map((r) => r.StartTime)).size).toBe(4);
    expect(result.lookups).toHaveLength(480);
    // Lookups between two runs answer the finished run (Volcengine still shows it), never the next one early.
    expect(result.lookups.filter((l) => l.Status === 3 && l.StartTime === l.ExpectedStartTime).length).toBeGreaterThan(100);
    expect(result.registry).toBe(0);
  });

  it('asks about 3,000 registrations that never become tasks at most every 15 minutes, and lets them go after 72 hours', async () => {
    const result = await run(ghosts(3_000));
    expect(result.summary).toMatchObject({ ghosts: 3_000, ghostsLeftInRegistry: 0, runsDiscoveredNotSettled: 0, archiverErrors: 0 });
    expect(result.summary.ghostMinPollIntervalMinutes).toBeGreaterThanOrEqual(15);
    expect(result.summary.ghostMaxPolls).toBeLessThanOrEqual(72 * 4 + 1);
    expect(result.finalSnapshotsMissed).toBe(0);
  }, 240_000);

  it('waits for runs announced ahead of their start, and lets go of those that never start', async () => {
    const result = await run(registrationBeforeStart(300));
    expect(result.summary).toMatchObject({ runsDiscoveredNotSettled: 0, ghostsLeftInRegistry: 0, archiverErrors: 0 });
    expect(result.summary.runsDiscovered).toBe(result.summary.runsInScenario);
    expect(result.summary.ghostMinPollIntervalMinutes).toBeGreaterThanOrEqual(15);
  });

  it('above capacity, serves the nearest deadlines first and misses no final snapshot', async () => {
    const result = await run(aboveCapacity(1_200, 1));
    expect(result.summary).toMatchObject({ runsDiscoveredNotSettled: 0, archiverErrors: 0, upstreamThrottled: 0 });
    expect(result.finalSnapshotsMissed).toBe(0);
    // Each run polls at most ARCHIVE_QPS × (timeout − safety) = 1 × 260 tasks: the lag grows instead.
    expect(Math.max(...result.polls.map((p) => p.Count))).toBeLessThanOrEqual(72 * 12 + 1);
    expect(result.lag.max).toBeGreaterThan(300);
  }, 120_000);

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
