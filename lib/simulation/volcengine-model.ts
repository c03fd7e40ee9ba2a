/**
 * Volcengine as the simulation's scenario describes it, behind the upstream port: for an address
 * at time t it shows the latest run with StartAt ≤ t while t < StartAt + 72 h (Status 2 until
 * EndAt, EndStatus after), otherwise nothing; it allows `accountQps` calls per virtual second for
 * the whole account and answers FlowLimitExceeded.QPSOverLimit past that.
 */
import { taskIdentity, WINDOW_MS, type TaskAddress } from '../task.ts';
import type { GetSegmentTaskResult, SegmentTaskUpstream } from '../upstream.ts';
import { QPS_OVER_LIMIT, VolcApiError } from '../volc/errors.ts';
import type { SegmentTask } from '../volc/schemas.ts';
import { atMinute, type ScenarioTask } from './scenario.ts';

export interface VirtualClock {
  now: number;
}

export interface PortHooks {
  /** Virtual time each call takes before it is made (the archiver's token bucket, in virtual time). */
  pacingMs?: number;
  beforeCall?: () => Promise<void>;
  onCall?: (address: TaskAddress, at: number) => void;
}

export class VolcengineModel {
  readonly #runs = new Map<string, ScenarioTask[]>();
  #second = -1;
  #callsThisSecond = 0;
  #carry = 0;
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

  /** A port onto this model for one caller (the archiver, or the lookup function). */
  port(hooks: PortHooks = {}): SegmentTaskUpstream {
    return {
      getSegmentTask: async (_version, address): Promise<GetSegmentTaskResult> => {
        if (hooks.pacingMs) this.#pace(hooks.pacingMs);
        await hooks.beforeCall?.();
        hooks.onCall?.(address, this.clock.now);
        this.#admit();
        const run = this.visibleRun(address, this.clock.now);
        return { task: run && stateAt(run, this.clock.now), requestId: `sim-${this.calls}`, attempts: 1 };
      },
    };
  }

  /** Advances the clock by `ms`, in whole milliseconds (like Date.now), carrying the fraction. */
  #pace(ms: number): void {
    this.#carry += ms;
    const whole = Math.floor(this.#carry);
    this.#carry -= whole;
    this.clock.now += whole;
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
