/**
 * The error tree: what went wrong, in the terms of the module that raises it. None of these
 * errors knows HTTP: how each is answered (status, Volcengine-style code, headers such as
 * Retry-After and Allow, whether its message is shown) is decided in one place,
 * lib/http/errors.ts, which also answers the Volcengine client's errors (lib/volc/client.ts).
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
