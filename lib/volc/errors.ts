/** Errors raised by the Volcengine client. They carry what Volcengine said, never credentials. */
import type { UpstreamDetails } from '../errors.ts';

export const QPS_OVER_LIMIT = 'FlowLimitExceeded.QPSOverLimit';

export class VolcError extends Error {
  readonly upstream: UpstreamDetails;
  readonly retryable: boolean;
  constructor(message: string, upstream: UpstreamDetails, retryable: boolean, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.upstream = upstream;
    this.retryable = retryable;
  }
}

/** Volcengine answered with an error envelope (or a non-200 status). */
export class VolcApiError extends VolcError {
  constructor(message: string, upstream: UpstreamDetails) {
    const status = upstream.httpStatus ?? 0;
    const retryable =
      upstream.code === QPS_OVER_LIMIT ||
      status === 429 ||
      status >= 500 ||
      (upstream.code?.startsWith('InternalError') ?? false) ||
      upstream.code === 'InternalServiceTimeout';
    super(message, upstream, retryable);
  }
  get throttled(): boolean {
    return this.upstream.code === QPS_OVER_LIMIT || this.upstream.httpStatus === 429;
  }
}

/** The connection failed or was reset before a full answer arrived. */
export class VolcTransportError extends VolcError {
  constructor(message: string, cause: unknown) {
    super(message, {}, true, cause);
  }
}

/** Volcengine answered 200 with a body we cannot read (not JSON, or not the documented shape). */
export class VolcMalformedResponseError extends VolcError {
  constructor(message: string, upstream: UpstreamDetails, cause?: unknown) {
    super(message, upstream, false, cause);
  }
}

export const DEADLINE_PASSED = 'the deadline passed before Volcengine answered';

/** The caller's deadline passed before an answer arrived. */
export class VolcDeadlineError extends VolcError {
  constructor(message = DEADLINE_PASSED, upstream: UpstreamDetails = {}, cause?: unknown) {
    super(message, upstream, false, cause);
  }
}

/** Our own QPS budget cannot grant a slot before the deadline. */
export class VolcBudgetExhaustedError extends VolcError {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super('the local Volcengine request budget is exhausted', {}, false);
    this.retryAfterMs = retryAfterMs;
  }
}

/** Our own credentials could not be obtained (e.g. the SSM parameter is unreadable): a configuration fault. */
export class VolcCredentialsError extends VolcError {
  constructor(cause: unknown) {
    super('the Volcengine credentials could not be loaded', {}, false, cause);
  }
}

/** Refused for throttling: our own budget had no slot in time, or Volcengine throttled the account. */
export const isThrottle = (error: unknown): boolean =>
  error instanceof VolcBudgetExhaustedError || (error instanceof VolcApiError && error.throttled);
