/**
 * The domain's nouns. A task is addressed by AppId + RoomId + TaskId (for auto segmentation the
 * UserId), and the same address is reused for every new run: a run is the address plus its
 * StartTime (epoch ms), and each run has its own history.
 */
export interface TaskAddress {
  appId: string;
  roomId: string;
  taskId: string;
}

export interface RunAddress extends TaskAddress {
  startTime: number;
}

/** GetSegmentTask reads a task only within 72 hours of its StartTime. */
export const WINDOW_MS = 72 * 3_600_000;

/** One string per task address (ids cannot contain a newline), for maps and sets. */
export const taskIdentity = (address: TaskAddress): string => `${address.appId}\n${address.roomId}\n${address.taskId}`;

export const runOf = (address: TaskAddress, startTime: number): RunAddress => ({
  appId: address.appId,
  roomId: address.roomId,
  taskId: address.taskId,
  startTime,
});

/** The earliest StartTime we accept: 2020-01-01T00:00:00Z, before any GetSegmentTask existed. */
export const EARLIEST_START_TIME = Date.UTC(2020, 0, 1);
/** A StartTime may lie at most this far ahead of now (a task announced before it starts). */
export const START_TIME_LEAD_MS = 86_400_000;

/**
 * Why `value` is not a StartTime in epoch milliseconds between 2020-01-01 and now + 1 day, or
 * undefined when it is one. Seconds (10 digits) and 14-digit values both fall outside.
 */
export function startTimeProblem(value: number, now: number): string | undefined {
  if (!Number.isSafeInteger(value)) return 'it must be a whole number of milliseconds since 1970-01-01';
  if (value < EARLIEST_START_TIME) return 'it lies before 2020-01-01; StartTime is in milliseconds since 1970-01-01, not seconds';
  if (value > now + START_TIME_LEAD_MS) return 'it lies more than a day in the future';
  return undefined;
}
