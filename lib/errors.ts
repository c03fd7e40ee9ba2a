/**
 * The error tree: what went wrong, in the terms of the module that raises it. None of these
 * errors knows HTTP: how each is answered (status, Volcengine-style code, headers such as
 * Retry-After and Allow, whether its message is shown) is decided in one place,
 * lib/http/errors.ts. The Volcengine client's errors (the last section) carry what Volcengine said.
 * Messages are written for the caller and never contain credentials.
 */

export interface UpstreamDetails {
  /** Volcengine's error code, e.g. "FlowLimitExceeded.QPSOverLimit". */
  code?: string | undefined;
  /** Volcengine's ResponseMetadata.RequestId, for support tickets. */
  requestId?: string | undefined;
  httpStatus?: number | undefined;
}

export interface AppErrorOptions {
  cause?: unknown;
  upstream?: UpstreamDetails | undefined;
}

/** Every error we raise on purpose. */
export class AppError extends Error {
  readonly upstream: UpstreamDetails | undefined;

  constructor(message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.upstream = options.upstream;
  }
}

// ---- the caller's request ------------------------------------------------------------------

/** A required parameter is absent. */
export class MissingParameterError extends AppError {
  constructor(parameter: string) {
    super(`The required parameter ${parameter} is missing.`);
  }
}

/** A parameter is present but not acceptable. */
export class InvalidParameterError extends AppError {
  constructor(parameter: string, reason: string) {
    super(`The parameter ${parameter} is invalid: ${reason}`);
  }
}

/** The route does not answer this HTTP method; `allowed` is the one it does. */
export class MethodNotAllowedError extends AppError {
  readonly allowed: 'GET' | 'POST';
  /** `method` is shown to the caller: pass it through printable(). */
  constructor(method: string, allowed: 'GET' | 'POST') {
    super(`The HTTP method ${method} is not allowed; use ${allowed}.`);
    this.allowed = allowed;
  }
}

/** A request body over the function's limit. */
export class BodyTooLargeError extends AppError {
  constructor(maxBytes: number) {
    super(`The body is larger than ${maxBytes} bytes.`);
  }
}

/** A body that is not declared as JSON. */
export class UnsupportedMediaTypeError extends AppError {
  constructor() {
    super('The body must be JSON (Content-Type: application/json).');
  }
}

/** The event is not an API Gateway HTTP API (payload 2.0) event. */
export class InvalidRequestError extends AppError {
  constructor() {
    super('The request is not an API Gateway HTTP API (payload 2.0) event.');
  }
}

/** An Action, or a Version of it, we do not serve. */
export class InvalidActionOrVersionError extends AppError {}

/** A callback whose signature does not match its AppId's SecretKey. */
export class SignatureMismatchError extends AppError {
  constructor() {
    super('The callback signature does not match.');
  }
}

/** A callback whose EventTime is outside the replay window. */
export class InvalidTimestampError extends AppError {
  constructor(maxSkewMs: number) {
    super(`EventTime must be within ${Math.round(maxSkewMs / 1000)} seconds of now; the event looks like a replay.`);
  }
}

// ---- the archive, the task, the callback's work ---------------------------------------------

/** A page token the archive did not hand out (a list of archived runs goes on only from its own tokens). */
export class InvalidPageTokenError extends AppError {
  constructor() {
    super('The parameter PageToken is invalid: it is not a token this API returned');
  }
}

/** The archive could not be read or written in time; the caller may retry. */
export class ArchiveUnavailableError extends AppError {
  constructor(cause: unknown) {
    super('The archive could not be read or written; retry shortly.', { cause });
  }
}

/** The task is unknown to Volcengine (or older than 72 h) and not in the archive. */
export class TaskNotFoundError extends AppError {}

/** A callback could not be registered and published within its answer budget; Volcengine delivers it again. */
export class CallbackBudgetExceededError extends AppError {
  constructor() {
    super('The event could not be handled in time; deliver it again.');
  }
}

/** The stack's event bus did not accept a verified event; Volcengine delivers it again. */
export class EventBusUnavailableError extends AppError {
  constructor(cause: unknown) {
    super('The event could not be published; deliver it again.', { cause });
  }
}

// ---- Volcengine: what the client (lib/volc/client.ts) raises -----------------------------------

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
