/**
 * Volcengine as the simulation's scenario describes it, behind the upstream port: for an address
 * at time t it shows the latest run with StartAt ≤ t while t < StartAt + 72 h (Status 2 until
 * EndAt, EndStatus after), otherwise nothing; it allows `accountQps` calls per virtual second for
 * the whole account and answers FlowLimitExceeded.QPSOverLimit past that. Each call is an
 * interleaving point of the scheduler; a paced caller (the archiver's token bucket) makes its
 * calls at most `ratePerSecond` a second, evenly spaced in virtual time, never in a burst.
 */
import type { GetSegmentTaskResult, SegmentTaskUpstream } from '../lib/upstream.ts';
import { type SegmentTask, taskIdentity, WINDOW_MS, type TaskAddress } from '../lib/volc/schemas.ts';
import { atMinute, type ScenarioTask } from './scenario.ts';
import { QPS_OVER_LIMIT, VolcApiError } from '../lib/errors.ts';

/** The model's time: the scheduler's in a simulation. */
export interface VirtualClock {
  now: number;
  /** An interleaving point (other callers may go first). */
  point(): Promise<void>;
  /** Waits until virtual time `at`. */
  until(at: number): Promise<void>;
}

/** A clock for using the model directly, outside a simulation: a wait moves it and lets nothing else run. */
export function steppedClock(start: number): VirtualClock {
  const clock: VirtualClock = {
    now: start,
    point: async () => undefined,
    until: async (at) => {
      clock.now = Math.max(clock.now, at);
    },
  };
  return clock;
}

export interface PortHooks {
  /** The caller's calls per second (the archiver's ARCHIVE_QPS), spaced evenly; unset: not paced. */
  ratePerSecond?: number;
  onCall?: (address: TaskAddress, at: number) => void;
}

export class VolcengineModel {
  readonly #runs = new Map<string, ScenarioTask[]>();
  #second = -1;
  #callsThisSecond = 0;
  calls = 0;
  throttled = 0;

  constructor(
    tasks: ScenarioTask[],
    readonly clock: VirtualClock,
    readonly accountQps: number,
  ) {
    for (const task of tasks) {
      const key = taskIdentity({ appId: task.AppId, roomId: task.RoomId, taskId: task.TaskId });
      this.#runs.set(
        key,
        [...(this.#runs.get(key) ?? []), task].sort((a, b) => a.StartAt - b.StartAt),
      );
    }
  }

  /** The run Volcengine shows for `address` at `t`, if any. */
  visibleRun(address: TaskAddress, t: number): ScenarioTask | undefined {
    const run = this.latestStartedRun(address, t);
    return run && t < atMinute(run.StartAt) + WINDOW_MS ? run : undefined;
  }

  /** The newest run of `address` that started at or before `t`. */
  latestStartedRun(address: TaskAddress, t: number): ScenarioTask | undefined {
    const runs = this.#runs.get(taskIdentity(address)) ?? [];
    let latest: ScenarioTask | undefined;
    for (const run of runs) if (atMinute(run.StartAt) <= t) latest = run;
    return latest;
  }

  /** A port onto this model for one caller (an archiver instance, or the lookup function). */
  port(hooks: PortHooks = {}): SegmentTaskUpstream {
    let nextSlot = Number.NEGATIVE_INFINITY;
    return {
      getSegmentTask: async (_version, address): Promise<GetSegmentTaskResult> => {
        if (hooks.ratePerSecond) {
          // A token bucket without burst, in virtual time: whole milliseconds, like Date.now.
          const slot = Math.max(this.clock.now, nextSlot);
          nextSlot = slot + 1000 / hooks.ratePerSecond;
          await this.clock.until(Math.ceil(slot));
        } else {
          await this.clock.point();
        }
        hooks.onCall?.(address, this.clock.now);
        this.#admit();
        const run = this.visibleRun(address, this.clock.now);
        return { task: run && stateAt(run, this.clock.now), requestId: `sim-${this.calls}`, attempts: 1 };
      },
    };
  }

  /** Counts a call against the account's quota for the current virtual second. */
  #admit(): void {
    this.calls++;
    const second = Math.floor(this.clock.now / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#callsThisSecond = 0;
    }
    if (++this.#callsThisSecond > this.accountQps) {
      this.throttled++;
      throw new VolcApiError('Volcengine answered HTTP 429 with FlowLimitExceeded.QPSOverLimit', { code: QPS_OVER_LIMIT, httpStatus: 429 });
    }
  }
}

export function stateAt(run: ScenarioTask, t: number): SegmentTask {
  const ended = run.EndAt !== null && t >= atMinute(run.EndAt);
  let duration = 20;
  let changedAt = -1;
  for (const change of run.Changes) {
    if (atMinute(change.At) <= t && change.At >= changedAt) [duration, changedAt] = [change.Duration, change.At];
  }
  return {
    StartTime: atMinute(run.StartAt),
    EndTime: ended ? atMinute(run.EndAt!) : 0,
    Status: ended ? run.EndStatus : 2,
    StopReason: ended ? run.StopReason : '',
    MaxIdleTime: 180,
    Duration: duration,
  };
}
