/** What a simulation leaves behind, read back from the archive and the model. */
import { ANNOUNCED_START_TOLERANCE_MS } from '../archive/decision.ts';
import { runOf, taskIdentity, WINDOW_MS, type TaskAddress } from '../task.ts';
import { isTerminalStatus } from '../volc/schemas.ts';
import { atMinute, MINUTE_MS, type ScenarioEvent, type ScenarioTask, type SimulatedRun, type SimulationResult } from './scenario.ts';
import type { Simulation } from './simulate.ts';

/** Poll times (epoch ms) of the archiver's upstream calls, by task identity. */
export type PollLog = Map<string, number[]>;

const addressOf = (item: { AppId: string; RoomId: string; TaskId: string }): TaskAddress => ({
  appId: item.AppId,
  roomId: item.RoomId,
  taskId: item.TaskId,
});
const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0;

async function archivedRuns(sim: Simulation): Promise<SimulatedRun[]> {
  const rooms = new Map<string, [string, string]>();
  for (const item of [...sim.scenario.tasks, ...sim.scenario.events]) rooms.set(`${item.AppId}\n${item.RoomId}`, [item.AppId, item.RoomId]);
  const { archive } = sim.functions.access;
  const runs: SimulatedRun[] = [];
  for (const [appId, roomId] of rooms.values()) {
    let token: string | undefined;
    do {
      const page = await archive.runsInRoom(appId, roomId, 1000, token);
      for (const { taskId, startTime } of page.runs) {
        const timeline = await archive.timeline(runOf({ appId, roomId, taskId }, startTime));
        const last = timeline.at(-1);
        runs.push({
          AppId: appId,
          RoomId: roomId,
          TaskId: taskId,
          StartTime: startTime,
          States: timeline.map((s) => ({ Status: s.SegmentTask.Status ?? null, CapturedAt: Date.parse(s.CapturedAt) })),
          Terminal: isTerminalStatus(last?.SegmentTask.Status),
          Final: timeline.some((s) => s.Final),
        });
      }
      token = page.nextToken;
    } while (token);
  }
  return runs;
}

/** Whether an event named this run while Volcengine showed it (or announced its StartTime). */
function discoveredBy(run: ScenarioTask, event: ScenarioEvent): boolean {
  if (taskIdentity(addressOf(event)) !== taskIdentity(addressOf(run))) return false;
  const start = atMinute(run.StartAt);
  if (event.Kind === 'watch' && event.StartTime !== undefined)
    return Math.abs(atMinute(event.StartTime) - start) <= ANNOUNCED_START_TOLERANCE_MS;
  const end = Math.min(run.EndAt === null ? Number.POSITIVE_INFINITY : atMinute(run.EndAt), start + WINDOW_MS);
  const at = atMinute(event.At);
  return at >= start && at < end;
}

/** Whether the run should be settled (terminal or final) in the archive by `end`. */
function dueToSettle(run: ScenarioTask, end: number, slackMs: number, finalMarginMs: number): boolean {
  const start = atMinute(run.StartAt);
  const settles = Math.min(run.EndAt === null ? Number.POSITIVE_INFINITY : atMinute(run.EndAt), start + WINDOW_MS - finalMarginMs);
  return settles + slackMs <= end;
}

function lagsOf(run: ScenarioTask, archived: SimulatedRun | undefined): number[] {
  if (!archived) return [];
  const start = atMinute(run.StartAt);
  const changes = [run.StartAt, ...run.Changes.map((c) => c.At), ...(run.EndAt === null ? [] : [run.EndAt])]
    .map(atMinute)
    .filter((c) => c < start + WINDOW_MS);
  const lags: number[] = [];
  for (const change of changes) {
    const capture = archived.States.find((s) => s.CapturedAt >= change);
    if (capture) lags.push((capture.CapturedAt - change) / 1000);
  }
  return lags;
}

function ghostFigures(sim: Simulation) {
  const withRuns = new Set(sim.scenario.tasks.map((t) => taskIdentity(addressOf(t))));
  const ghosts = new Set(sim.scenario.events.map((e) => taskIdentity(addressOf(e))).filter((id) => !withRuns.has(id)));
  let maxPolls = 0;
  let minInterval = Number.POSITIVE_INFINITY;
  for (const id of ghosts) {
    const times = sim.polls.get(id) ?? [];
    maxPolls = Math.max(maxPolls, times.length);
    for (let i = 1; i < times.length; i++) minInterval = Math.min(minInterval, times[i]! - times[i - 1]!);
  }
  return { ghosts, maxPolls, minIntervalMinutes: Number.isFinite(minInterval) ? Math.round((minInterval / MINUTE_MS) * 100) / 100 : null };
}

export async function summarise(sim: Simulation, wallSeconds: number): Promise<SimulationResult> {
  const end = sim.clock.now;
  const runs = await archivedRuns(sim);
  const byRun = new Map(runs.map((r) => [`${taskIdentity(addressOf(r))}\n${r.StartTime}`, r]));
  const slack = 2 * sim.scenario.scheduleMinutes * MINUTE_MS;
  let discovered = 0;
  let notSettled = 0;
  const lags: number[] = [];
  for (const run of sim.scenario.tasks) {
    const archived = byRun.get(`${taskIdentity(addressOf(run))}\n${atMinute(run.StartAt)}`);
    if (!archived && !sim.scenario.events.some((e) => discoveredBy(run, e))) continue;
    discovered++;
    if (dueToSettle(run, end, slack, sim.functions.finalMarginMs) && !(archived?.Terminal || archived?.Final)) notSettled++;
    lags.push(...lagsOf(run, archived));
  }
  lags.sort((a, b) => a - b);
  const ghost = ghostFigures(sim);
  let ghostsLeft = 0;
  for await (const entry of sim.functions.access.registry.entries()) if (ghost.ghosts.has(entry.identity)) ghostsLeft++;
  const polls = [...sim.polls.entries()].map(([id, times]) => {
    const [AppId, RoomId, TaskId] = id.split('\n') as [string, string, string];
    return { AppId, RoomId, TaskId, Count: times.length };
  });
  return {
    runs,
    lookups: sim.lookups,
    polls,
    registry: await sim.functions.access.registry.count(),
    finalSnapshotsMissed: sim.finalSnapshotsMissed,
    upstreamCalls: sim.model.calls,
    lag: { p50: percentile(lags, 0.5), p95: percentile(lags, 0.95), max: lags.at(-1) ?? 0 },
    summary: {
      archiverRuns: sim.archiverRuns,
      archiverErrors: sim.archiverErrors,
      runsInScenario: sim.scenario.tasks.length,
      runsDiscovered: discovered,
      runsDiscoveredNotSettled: notSettled,
      wrongRunLookups: sim.lookups.filter((l) => l.WrongRun).length,
      upstreamThrottled: sim.model.throttled,
      ghosts: ghost.ghosts.size,
      ghostMaxPolls: ghost.maxPolls,
      ghostMinPollIntervalMinutes: ghost.minIntervalMinutes,
      ghostsLeftInRegistry: ghostsLeft,
      wallSeconds: Math.round(wallSeconds * 10) / 10,
    },
  };
}
