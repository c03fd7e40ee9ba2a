/**
 * One invocation's deadline: the AbortSignal every call under it is given (S3 and DynamoDB cut
 * their requests with it, the Volcengine client gives up with it) and the instant it fires, from
 * which a call that keeps its own timer (the Volcengine client, by design: one timer per call is
 * cheaper than a signal per attempt) takes its budget.
 */
export interface Deadline {
  /** Aborts when the deadline passes, or sooner when the invocation is cancelled. */
  readonly signal: AbortSignal;
  /** When it passes, on performance.now()'s clock. */
  readonly at: number;
}

/**
 * A deadline `ms` from now, in whole ms (AbortSignal.timeout takes nothing else: a runner reporting
 * 3000.5 ms left would make it throw); a time that is not a number, or below zero, is none left.
 * Finite: the invocation's budget bounds it (invocationDeadline).
 * `cancelled` (middy's signal, for one) aborts it sooner.
 */
export function deadlineIn(ms: number, cancelled: AbortSignal): Deadline {
  const whole = Math.max(0, Math.floor(ms)) || 0; // NaN → 0
  return { signal: AbortSignal.any([cancelled, AbortSignal.timeout(whole)]), at: performance.now() + whole };
}

/**
 * The deadline of an invocation that answers within `budgetMs`: sooner when the Lambda has less
 * than that left, less `marginMs` (kept for the answer, its logs and metrics), and cancelled with
 * `cancelled` (middy's signal). Lambda's timeout is read from the context, not configured twice.
 */
export function invocationDeadline(
  budgetMs: number,
  marginMs: number,
  context: { getRemainingTimeInMillis?: (() => number) | undefined },
  cancelled: AbortSignal,
): Deadline {
  return deadlineIn(Math.min(budgetMs, (context.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY) - marginMs), cancelled);
}

/**
 * `work`'s outcome, or `expired()` (the signal's reason by default) once `signal` aborts: for work
 * the signal cannot cut itself (one shared by callers with other deadlines, a store that ignores
 * signals), so that awaiting it never outlasts the deadline. The work goes on unawaited (its late
 * failure handled here, not reported as unhandled).
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal, expired: () => unknown = () => signal.reason): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(expired());
    if (signal.aborted) abort();
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}
