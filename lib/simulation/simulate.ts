/**
 * The capacity simulation behind `npm run simulate`: the real lookup, callback and archiver code on
 * a virtual clock against a model of Volcengine built from a scenario. The archiver runs every
 * `scheduleMinutes` with its configured QPS (each call takes 1/ARCHIVE_QPS s of virtual time) and
 * Lambda time budget; events happen at their minute, also in the middle of an archiver run.
 */
import { taskIdentity, type TaskAddress } from '../task.ts';
import { simulatedFunctions, type SimulatedFunctions } from './functions.ts';
import {
  atMinute,
  MINUTE_MS,
  VIRTUAL_EPOCH,
  type Scenario,
  type ScenarioEvent,
  type SimulatedLookup,
  type SimulationResult,
} from './scenario.ts';
import { summarise, type PollLog } from './results.ts';
import { VolcengineModel, type VirtualClock } from './volcengine-model.ts';

export interface SimulateOptions {
  /** Told about progress every few virtual hours. */
  onProgress?: (line: string) => void;
}

const PROGRESS_EVERY_MS = 10 * 3_600_000;

class Simulation {
  readonly clock: VirtualClock = { now: VIRTUAL_EPOCH };
  readonly model: VolcengineModel;
  readonly functions: SimulatedFunctions;
  readonly events: ScenarioEvent[];
  readonly polls: PollLog = new Map();
  readonly lookups: SimulatedLookup[] = [];
  #next = 0;
  #draining: Promise<void> | undefined;
  #eventCount = 0;
  finalSnapshotsMissed = 0;
  archiverErrors = 0;
  archiverRuns = 0;

  constructor(readonly scenario: Scenario) {
    this.model = new VolcengineModel(scenario.tasks, this.clock, scenario.accountQps);
    this.events = [...scenario.events].sort((a, b) => a.At - b.At);
    this.functions = simulatedFunctions(this.clock, scenario.env, (archiveQps) => ({
      // Each archiver call takes one slot of its token bucket: 1/ARCHIVE_QPS s of virtual time.
      archiver: this.model.port({
        pacingMs: 1000 / archiveQps,
        beforeCall: () => this.drain(this.clock.now),
        onCall: (address, at) => {
          const key = taskIdentity(address);
          const times = this.polls.get(key);
          if (times) times.push(at);
          else this.polls.set(key, [at]);
        },
      }),
      lookup: this.model.port(),
    }));
  }

  /** Handles every event due by `until`, in order; concurrent callers share one pass. */
  async drain(until: number): Promise<void> {
    while (this.#draining) await this.#draining;
    if (this.#next >= this.events.length || atMinute(this.events[this.#next]!.At) > until) return;
    this.#draining = (async () => {
      while (this.#next < this.events.length && atMinute(this.events[this.#next]!.At) <= until) {
        const event = this.events[this.#next++]!;
        this.clock.now = Math.max(this.clock.now, atMinute(event.At));
        await this.handle(event);
      }
    })();
    try {
      await this.#draining;
    } finally {
      this.#draining = undefined;
    }
  }

  async handle(event: ScenarioEvent): Promise<void> {
    const address = { AppId: event.AppId, RoomId: event.RoomId, TaskId: event.TaskId };
    if (event.Kind === 'callback') {
      await this.functions.callback(event.AppId, event.RoomId, event.TaskId, `sim-event-${++this.#eventCount}`);
      return;
    }
    if (event.Kind === 'watch') {
      const startTime = event.StartTime === undefined ? [] : [['StartTime', String(atMinute(event.StartTime))] as [string, string]];
      await this.functions.lookup([['Action', 'WatchSegmentTask'], ['Version', '2023-11-01'], ...Object.entries(address), ...startTime]);
      return;
    }
    const result = await this.functions.lookup([['Action', 'GetSegmentTask'], ['Version', '2023-11-01'], ...Object.entries(address)]);
    this.lookups.push(this.lookupRecord(event, result.statusCode, result.headers['X-Answer-Source'] ?? null, JSON.parse(result.body)));
  }

  lookupRecord(
    event: ScenarioEvent,
    status: number,
    source: string | null,
    body: { Result?: { SegmentTask?: { StartTime?: number; Status?: number } } },
  ): SimulatedLookup {
    const address: TaskAddress = { appId: event.AppId, roomId: event.RoomId, taskId: event.TaskId };
    const shown = this.model.visibleRun(address, this.clock.now);
    const expected = shown ?? this.model.latestStartedRun(address, this.clock.now);
    const expectedStart = expected ? atMinute(expected.StartAt) : null;
    const task = status === 200 ? body.Result?.SegmentTask : undefined;
    const wrong = (task !== undefined && source !== 'cache' && task.StartTime !== expectedStart) || (status === 404 && shown !== undefined);
    return {
      At: event.At,
      AppId: event.AppId,
      RoomId: event.RoomId,
      TaskId: event.TaskId,
      HttpStatus: status,
      Source: source,
      ...(task?.StartTime === undefined ? {} : { StartTime: task.StartTime }),
      ...(task?.Status === undefined ? {} : { Status: task.Status }),
      ExpectedStartTime: expectedStart,
      WrongRun: wrong,
    };
  }

  async runArchiver(): Promise<void> {
    const startedAt = this.clock.now;
    const budgetMs = this.scenario.archiveTimeoutSeconds * 1000;
    const summary = await this.functions.archive(() => budgetMs - (this.clock.now - startedAt));
    this.finalSnapshotsMissed += summary.finalSnapshotsMissed;
    this.archiverErrors += summary.errors;
    this.archiverRuns++;
  }
}

export async function simulate(scenario: Scenario, options: SimulateOptions = {}): Promise<SimulationResult> {
  const wallStart = performance.now();
  const sim = new Simulation(scenario);
  const end = VIRTUAL_EPOCH + scenario.hours * 3_600_000;
  let reportAt = VIRTUAL_EPOCH + PROGRESS_EVERY_MS;
  for (let runAt = VIRTUAL_EPOCH; runAt < end; runAt += scenario.scheduleMinutes * MINUTE_MS) {
    await sim.drain(runAt);
    sim.clock.now = Math.max(sim.clock.now, runAt);
    await sim.runArchiver();
    if (sim.clock.now >= reportAt) {
      options.onProgress?.(
        `${Math.round((sim.clock.now - VIRTUAL_EPOCH) / 3_600_000)} h of ${scenario.hours}: ${sim.archiverRuns} archiver runs, ` +
          `${await sim.functions.access.registry.count()} watched, ${sim.model.calls} upstream calls`,
      );
      reportAt += PROGRESS_EVERY_MS;
    }
  }
  await sim.drain(end);
  sim.clock.now = Math.max(sim.clock.now, end);
  return summarise(sim, (performance.now() - wallStart) / 1000);
}

export type { Simulation };
