/** What a simulation leaves behind, read back from the archive, the registry and the model. */
import { ANNOUNCED_START_TOLERANCE_MS } from '../lib/archive/decision.ts';
import { allEntries, countEntries } from '../lib/archive/registry.ts';
import type { SnapshotFile } from '../lib/archive/schemas.ts';
import { isTerminalStatus, runOf, taskIdentity, WINDOW_MS, type TaskAddress } from '../lib/volc/schemas.ts';
import { costOf } from './cost.ts';
import type { AppliedRegistration } from './faults.ts';
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
/** Seconds in minutes, to a tenth. */
const minutesOf = (seconds: number) => Math.round((seconds / 60) * 10) / 10;
/** p50, p95 and max of sorted seconds. */
const spread = (sorted: number[]) => ({ p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), max: sorted.at(-1) ?? 0 });
const runKey = (address: TaskAddress, startTime: number) => `${taskIdentity(address)}\n${startTime}`;

/** Timeline entries that add nothing: the same state and Final as the entry before, or a running state after a terminal one. */
function repeatsIn(timeline: SnapshotFile[]): number {
  let repeats = 0;
  for (let i = 1; i < timeline.length; i++) {
    const [before, entry] = [timeline[i - 1]!, timeline[i]!];
    const same = before.StateHash === entry.StateHash && before.Final === entry.Final;
    const backwards = isTerminalStatus(before.SegmentTask.Status) && !isTerminalStatus(entry.SegmentTask.Status);
    if (same || backwards) repeats++;
  }
  return repeats;
}

async function archivedRuns(sim: Simulation): Promise<{ runs: SimulatedRun[]; repeats: number }> {
  const rooms = new Map<string, [string, string]>();
  for (const item of [...sim.scenario.tasks, ...sim.scenario.events]) rooms.set(`${item.AppId}\n${item.RoomId}`, [item.AppId, item.RoomId]);
  const { archive } = sim.functions.access;
  const runs: SimulatedRun[] = [];
  let repeats = 0;
  for (const [appId, roomId] of rooms.values()) {
    let token: string | undefined;
    do {
      const page = await archive.runsInRoom(appId, roomId, 1000, token);
      for (const { taskId, startTime } of page.runs) {
        const timeline = await archive.timeline(runOf({ appId, roomId, taskId }, startTime));
        repeats += repeatsIn(timeline);
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
  return { runs, repeats };
}

/** The scenario's tasks, events and the applied registrations by task identity: each run's figures read only its own. */
interface ByAddress {
  tasks: Map<string, ScenarioTask[]>;
  acknowledged: Map<string, ScenarioEvent[]>;
  registrations: Map<string, AppliedRegistration[]>;
}

function groupBy<T>(items: Iterable<T>, key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

function byAddress(sim: Simulation): ByAddress {
  return {
    tasks: groupBy(sim.scenario.tasks, (t) => taskIdentity(addressOf(t))),
    acknowledged: groupBy(sim.acknowledged, (e) => taskIdentity(addressOf(e))),
    registrations: groupBy(sim.registrations, (r) => taskIdentity(r.address)),
  };
}

/** When Volcengine shows the run: from its start until it is replaced by a newer run of its address or its window closes. */
function visibleWindow(run: ScenarioTask, index: ByAddress): [number, number] {
  const start = atMinute(run.StartAt);
  const next = (index.tasks.get(taskIdentity(addressOf(run))) ?? [])
    .filter((t) => t.StartAt > run.StartAt)
    .reduce((earliest, t) => Math.min(earliest, atMinute(t.StartAt)), Number.POSITIVE_INFINITY);
  return [start, Math.min(start + WINDOW_MS, next)];
}

/**
 * When the functions made the run known, if they did: a registration of it (a lookup saw it, a
 * watch announced it, the archiver followed it), or a registration of its address without
 * StartTime while Volcengine showed it, or an acknowledged callback or watch that named it then.
 */
function discoveredAt(run: ScenarioTask, index: ByAddress): number | undefined {
  const id = taskIdentity(addressOf(run));
  const start = atMinute(run.StartAt);
  const [from, until] = visibleWindow(run, index);
  let first = Number.POSITIVE_INFINITY;
  for (const r of index.registrations.get(id) ?? []) {
    const names =
      r.startTime === undefined
        ? r.at >= from && r.at < until
        : Math.abs(r.startTime - start) <= (r.via === 'watch' ? ANNOUNCED_START_TOLERANCE_MS : 0);
    if (names) first = Math.min(first, r.at);
  }
  for (const event of index.acknowledged.get(id) ?? []) if (named(run, event, from, until)) first = Math.min(first, atMinute(event.At));
  return Number.isFinite(first) ? first : undefined;
}

function named(run: ScenarioTask, event: ScenarioEvent, from: number, until: number): boolean {
  if (event.Kind === 'watch' && event.StartTime !== undefined)
    return Math.abs(atMinute(event.StartTime) - atMinute(run.StartAt)) <= ANNOUNCED_START_TOLERANCE_MS;
  const at = atMinute(event.At);
  return at >= from && at < until;
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

/**
 * Archiver calls per run at a steady load: the calls made while runs arrive at their full rate
 * (from a quarter of the way through the arrivals to the last one) over the runs that arrived
 * meanwhile, calls and runs alike counted by when they happen. The whole scenario's figure also
 * counts its start, when few runs share the archiver's reserve and each is refreshed at the
 * shortest interval, and its drain, when the runs still running are the long ones. Undefined
 * without runs arriving over time.
 */
function steadyCallsPerRun(sim: Simulation): number | undefined {
  const starts = sim.scenario.tasks.map((task) => atMinute(task.StartAt)).sort((a, b) => a - b);
  const [first, last] = [starts[0], starts.at(-1)];
  if (first === undefined || last === undefined || last <= first) return undefined;
  const from = first + (last - first) / 4;
  const arrived = starts.filter((start) => start >= from && start < last).length;
  let calls = 0;
  for (const times of sim.polls.values()) for (const at of times) if (at >= from && at < last) calls++;
  return arrived ? Math.round((calls / arrived) * 100) / 100 : undefined;
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

/**
 * How each discovered run fared: settled when it should be, its end captured, lost altogether;
 * and how long its first capture took after its discovery (or its start, announced ahead), and
 * its end's capture after it ended (in seconds).
 */
function runOutcomes(sim: Simulation, byRun: Map<string, SimulatedRun>) {
  const end = sim.scheduler.now;
  const slack = 2 * sim.scenario.scheduleMinutes * MINUTE_MS;
  const index = byAddress(sim);
  const counts = { discovered: 0, notSettled: 0, endMissed: 0, lost: 0 };
  const lags: number[] = [];
  const firstCaptures: number[] = [];
  const endCaptures: number[] = [];
  for (const run of sim.scenario.tasks) {
    const start = atMinute(run.StartAt);
    const archived = byRun.get(runKey(addressOf(run), start));
    const known = discoveredAt(run, index);
    if (!archived && known === undefined) continue;
    counts.discovered++;
    lags.push(...lagsOf(run, archived));
    const ended = run.EndAt === null ? Number.POSITIVE_INFINITY : atMinute(run.EndAt);
    if (archived?.States.length) firstCaptures.push((archived.States[0]!.CapturedAt - Math.max(start, known ?? start)) / 1000);
    const terminal = archived?.States.find((s) => isTerminalStatus(s.Status ?? undefined));
    if (terminal && Number.isFinite(ended)) endCaptures.push((terminal.CapturedAt - ended) / 1000);
    // Volcengine shows the run until its window closes or a newer run of its TaskId replaces it; two
    // schedules of that (one full archiver run) must fall after its end or final margin for it to be due.
    const [, visibleUntil] = visibleWindow(run, index);
    const settles = Math.min(ended, start + WINDOW_MS - sim.functions.finalMarginMs);
    // Lost: shown for a whole archiver run at least, and nothing of it archived.
    if (!archived && start + slack <= Math.min(end, visibleUntil)) counts.lost++;
    // Settled (or ended) two schedules before Volcengine stopped showing it (a newer run of its TaskId,
    // its window closing): its end should be archived. Under load the refresh interval is longer than
    // that, and these count what the policy let go. A run still shown when the simulation stops is
    // counted only once a whole shortest refresh interval passed after those two schedules.
    const dueBy = Math.min(visibleUntil - slack, end - slack - sim.functions.refreshMs);
    if (settles > dueBy) continue;
    if (!(archived?.Terminal || archived?.Final)) counts.notSettled++;
    if (ended <= dueBy && !archived?.Terminal) counts.endMissed++;
  }
  const sorted = (values: number[]) => values.sort((x, y) => x - y);
  return { counts, lags: sorted(lags), firstCaptures: sorted(firstCaptures), endCaptures: sorted(endCaptures) };
}

/** Registry entries that should be gone: past their deadline, or of a run archived terminal, two schedules ago or more. */
async function orphans(sim: Simulation, byRun: Map<string, SimulatedRun>): Promise<number> {
  const end = sim.scheduler.now;
  const slack = 2 * sim.scenario.scheduleMinutes * MINUTE_MS;
  let orphaned = 0;
  for await (const entry of allEntries(sim.functions.access.registry)) {
    const archived = entry.startTime === undefined ? undefined : byRun.get(runKey(entry.address, entry.startTime));
    const settledAt = archived?.Terminal ? archived.States.at(-1)!.CapturedAt : Number.POSITIVE_INFINITY;
    if (entry.deadline + slack < end || settledAt + slack < end) orphaned++;
  }
  return orphaned;
}

export async function summarise(sim: Simulation, wallSeconds: number): Promise<SimulationResult> {
  const { runs, repeats } = await archivedRuns(sim);
  const byRun = new Map(runs.map((r) => [runKey(addressOf(r), r.StartTime), r]));
  const { counts, lags, firstCaptures, endCaptures } = runOutcomes(sim, byRun);
  const archiverCalls = [...sim.polls.values()].reduce((sum, times) => sum + times.length, 0);
  const ghost = ghostFigures(sim);
  let ghostsLeft = 0;
  for await (const entry of allEntries(sim.functions.access.registry)) if (ghost.ghosts.has(taskIdentity(entry.address))) ghostsLeft++;
  const requests = structuredClone(sim.functions.requests.counts);
  const cost = costOf(requests);
  const polls = [...sim.polls.entries()].map(([id, times]) => {
    const [AppId, RoomId, TaskId] = id.split('\n') as [string, string, string];
    return { AppId, RoomId, TaskId, Count: times.length };
  });
  return {
    runs,
    lookups: sim.lookups,
    polls,
    registry: await countEntries(sim.functions.access.registry),
    finalSnapshotsMissed: sim.finalSnapshotsMissed,
    upstreamCalls: sim.model.calls,
    lag: spread(lags),
    firstCapture: spread(firstCaptures),
    endCapture: spread(endCaptures),
    faults: { ...sim.calls.injected },
    requests,
    cost,
    summary: {
      archiverRuns: sim.archiverRuns,
      archiverErrors: sim.archiverErrors,
      runsInScenario: sim.scenario.tasks.length,
      runsDiscovered: counts.discovered,
      runsDiscoveredNotSettled: counts.notSettled,
      runsEndMissed: counts.endMissed,
      runsLost: counts.lost,
      duplicateTimelineEntries: repeats,
      orphanedRegistrations: await orphans(sim, byRun),
      wrongRunLookups: sim.lookups.filter((l) => l.WrongRun).length,
      eventsPublished: sim.functions.bus.published.length,
      upstreamThrottled: sim.model.throttled,
      archiverRunsStoppedEarly: sim.runsStoppedEarly,
      mostDueNotReached: { ...sim.mostNotReached },
      refreshIntervalMinutes: {
        p50: minutesOf(
          percentile(
            [...sim.refreshMedians].sort((a, b) => a - b),
            0.5,
          ) / 1000,
        ),
        max: minutesOf(sim.longestRefreshMs / 1000),
      },
      archiverCallsPerRun: counts.discovered ? Math.round((archiverCalls / counts.discovered) * 100) / 100 : 0,
      archiverCallsPerRunSteady: steadyCallsPerRun(sim),
      firstCaptureP95Minutes: minutesOf(percentile(firstCaptures, 0.95)),
      endCaptureP95Minutes: minutesOf(percentile(endCaptures, 0.95)),
      ghosts: ghost.ghosts.size,
      ghostMaxPolls: ghost.maxPolls,
      ghostMinPollIntervalMinutes: ghost.minIntervalMinutes,
      ghostsLeftInRegistry: ghostsLeft,
      awsCostUsd: Math.round(cost.totalUsd * 1e6) / 1e6,
      wallSeconds: Math.round(wallSeconds * 10) / 10,
    },
  };
}
