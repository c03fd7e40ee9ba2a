/**
 * The capacity simulation behind `npm run simulate`: the real lookup, callback and archiver code,
 * running concurrently on a virtual clock (simulation/scheduler.ts), against a model of
 * Volcengine built from a scenario. An archiver invocation starts on every schedule tick (maybe a
 * second one alongside: a duplicate delivery) with its configured QPS and Lambda time budget;
 * events start at their minute, also in the middle of an archiver run; the scenario's faults are
 * injected at every store call.
 */
import { LANES, noLanes } from '../lib/archive/registry.ts';
import { taskIdentity, type TaskAddress } from '../lib/volc/schemas.ts';
import { StoreCalls, type AppliedRegistration } from './faults.ts';
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
import { Scheduler } from './scheduler.ts';
import { summarise, type PollLog } from './results.ts';
import { VolcengineModel } from './volcengine-model.ts';
import { countEntries } from '../lib/archive/registry.ts';
import type { HttpResult } from '../lib/http/http-function.ts';

export interface SimulateOptions {
  /** Told about progress every few virtual hours. */
  onProgress?: (line: string) => void;
}

const PROGRESS_EVERY_MS = 10 * 3_600_000;
/** Volcengine delivers a callback at most three times, a minute apart here; a caller of WatchSegmentTask answered 5xx tries as often. */
const ATTEMPTS = 3;
const RETRY_AFTER_MS = 60_000;
/** A duplicate delivery of a schedule tick starts up to this long after the first. */
const DUPLICATE_WITHIN_MS = 2_000;
/** Lambda retries a failed asynchronous invocation (the archiver's schedule) twice: a minute, then two, after. */
const LAMBDA_RETRY_DELAYS_MS = [60_000, 120_000];

class Simulation {
  readonly scheduler: Scheduler;
  readonly model: VolcengineModel;
  readonly calls: StoreCalls;
  readonly functions: SimulatedFunctions;
  readonly end: number;
  readonly polls: PollLog = new Map();
  readonly lookups: SimulatedLookup[] = [];
  readonly registrations: AppliedRegistration[] = [];
  /** Callbacks and watches the functions acknowledged (2xx), with the time of the event. */
  readonly acknowledged: ScenarioEvent[] = [];
  finalSnapshotsMissed = 0;
  archiverErrors = 0;
  archiverRuns = 0;
  /** Archiver runs that stopped with entries still due, and the most each lane had left then. */
  runsStoppedEarly = 0;
  mostNotReached = noLanes();
  /** The longest refresh interval any archiver run reported, and the median reported by the most recent runs' (ms). */
  longestRefreshMs = 0;
  readonly refreshMedians: number[] = [];
  duplicateRuns = 0;
  #eventCount = 0;

  constructor(readonly scenario: Scenario) {
    this.scheduler = new Scheduler(VIRTUAL_EPOCH, scenario.faults.seed);
    this.calls = new StoreCalls(this.scheduler, scenario.faults);
    this.model = new VolcengineModel(scenario.tasks, this.scheduler, scenario.accountQps);
    this.end = VIRTUAL_EPOCH + scenario.hours * 3_600_000;
    this.functions = simulatedFunctions({
      scheduler: this.scheduler,
      model: this.model,
      calls: this.calls,
      env: scenario.env,
      onRegistered: (registration) => this.registrations.push(registration),
      onArchiverCall: (address, at) => {
        const key = taskIdentity(address);
        const times = this.polls.get(key);
        if (times) times.push(at);
        else this.polls.set(key, [at]);
      },
    });
  }

  /** Every schedule tick, and every event, as invocations at their virtual time. */
  plan(options: SimulateOptions): void {
    const { scheduler, scenario } = this;
    let invocations = 0;
    for (let tick = VIRTUAL_EPOCH; tick < this.end; tick += scenario.scheduleMinutes * MINUTE_MS) {
      this.#archiver(0, tick, tick, `tick-${++invocations}`, 0);
      if (scheduler.random() < scenario.faults.duplicateSchedule) {
        this.calls.injected.duplicatedSchedules++;
        this.#archiver(1, tick, tick + Math.floor(scheduler.random() * DUPLICATE_WITHIN_MS), `tick-${++invocations}`, 0);
      }
    }
    for (const event of scenario.events) {
      const at = atMinute(event.At);
      if (at > this.end) continue;
      if (event.Kind === 'callback') this.#deliver(event, `sim-event-${++this.#eventCount}`, 1, at);
      else this.#ask(event, 1, at);
    }
    for (let at = VIRTUAL_EPOCH + PROGRESS_EVERY_MS; at <= this.end; at += PROGRESS_EVERY_MS) {
      scheduler.start(at, 'observer', async () => {
        const watched = await countEntries(this.functions.access.registry);
        options.onProgress?.(
          `${Math.round((at - VIRTUAL_EPOCH) / 3_600_000)} h of ${scenario.hours}: ${this.archiverRuns} archiver runs, ` +
            `${watched} watched, ${this.model.calls} upstream calls`,
        );
      });
    }
  }

  /** An archiver invocation; one that dies is retried by Lambda with the same request id. */
  #archiver(instance: number, tick: number, at: number, requestId: string, retry: number): void {
    const budgetMs = this.scenario.archiveTimeoutSeconds * 1000;
    this.scheduler.start(
      at,
      'archiver',
      () => {
        const startedAt = this.scheduler.now;
        return this.functions.archive(instance, tick, requestId, () => budgetMs - (this.scheduler.now - startedAt));
      },
      {
        died: () => {
          const delay = LAMBDA_RETRY_DELAYS_MS[retry];
          if (delay !== undefined) this.#archiver(instance, tick, this.scheduler.now + delay, requestId, retry + 1);
        },
        done: (summary) => {
          if (!summary) return;
          if (summary.duplicate) this.duplicateRuns++;
          else this.archiverRuns++;
          this.finalSnapshotsMissed += summary.finalSnapshotsMissed;
          this.archiverErrors += summary.errors;
          if (summary.stoppedEarly) this.runsStoppedEarly++;
          for (const lane of LANES) this.mostNotReached[lane] = Math.max(this.mostNotReached[lane], summary.notReached[lane]);
          if (summary.refreshIntervalMs) {
            this.longestRefreshMs = Math.max(this.longestRefreshMs, summary.refreshIntervalMs.max);
            this.refreshMedians.push(summary.refreshIntervalMs.p50);
          }
        },
      },
    );
  }

  /** A callback delivery; one answered 5xx (or lost to a crash) is delivered again a minute later. */
  #deliver(event: ScenarioEvent, eventId: string, delivery: number, at: number): void {
    const address: TaskAddress = { appId: event.AppId, roomId: event.RoomId, taskId: event.TaskId };
    const again = () => {
      const next = this.scheduler.now + RETRY_AFTER_MS;
      if (delivery < ATTEMPTS && next <= this.end) this.#deliver(event, eventId, delivery + 1, next);
    };
    const instance = this.#instance('callback');
    this.scheduler.start(at, 'callback', () => this.functions.callback(instance, { address, eventId, eventTime: atMinute(event.At) }), {
      done: (result) => (result && result.statusCode < 500 ? this.#acknowledge(event, result) : again()),
      died: again,
    });
  }

  /** A lookup, or a watch (its caller tries again a minute after a 5xx). */
  #ask(event: ScenarioEvent, attempt: number, at: number): void {
    const address = { AppId: event.AppId, RoomId: event.RoomId, TaskId: event.TaskId };
    const instance = this.#instance('lookup');
    const query: Array<[string, string]> =
      event.Kind === 'watch'
        ? [['Action', 'WatchSegmentTask'], ['Version', '2023-11-01'], ...Object.entries(address)]
        : [['Action', 'GetSegmentTask'], ['Version', '2023-11-01'], ...Object.entries(address)];
    if (event.Kind === 'watch' && event.StartTime !== undefined) query.push(['StartTime', String(atMinute(event.StartTime))]);
    this.scheduler.start(at, 'lookup', () => this.functions.lookup(instance, query), {
      done: (result) => {
        if (!result) return;
        if (event.Kind !== 'watch') this.lookups.push(this.lookupRecord(event, result));
        else if (result.statusCode < 500) this.#acknowledge(event, result);
        else if (attempt < ATTEMPTS && this.scheduler.now + RETRY_AFTER_MS <= this.end)
          this.#ask(event, attempt + 1, this.scheduler.now + RETRY_AFTER_MS);
      },
    });
  }

  #acknowledge(event: ScenarioEvent, result: HttpResult): void {
    if (result.statusCode >= 200 && result.statusCode < 300) this.acknowledged.push(event);
  }

  #instance(kind: 'lookup' | 'callback'): number {
    return Math.floor(this.scheduler.random() * this.functions.instances[kind]);
  }

  lookupRecord(event: ScenarioEvent, result: HttpResult): SimulatedLookup {
    const body = JSON.parse(result.body) as { Result?: { SegmentTask?: { StartTime?: number; Status?: number } } };
    const source = result.headers['X-Answer-Source'] ?? null;
    const address: TaskAddress = { appId: event.AppId, roomId: event.RoomId, taskId: event.TaskId };
    const shown = this.model.visibleRun(address, this.scheduler.now);
    const expected = shown ?? this.model.latestStartedRun(address, this.scheduler.now);
    const expectedStart = expected ? atMinute(expected.StartAt) : null;
    const status = result.statusCode;
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
}

export async function simulate(scenario: Scenario, options: SimulateOptions = {}): Promise<SimulationResult> {
  const wallStart = performance.now();
  const sim = new Simulation(scenario);
  sim.plan(options);
  await sim.scheduler.run();
  sim.scheduler.now = Math.max(sim.scheduler.now, sim.end);
  return summarise(sim, (performance.now() - wallStart) / 1000);
}

export type { Simulation };
