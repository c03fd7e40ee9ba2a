/**
 * The error tree. Every error we raise on purpose is an AppError: it knows its HTTP status, its
 * Volcengine-style code and whether its message may be shown to the caller (`expose`, as in
 * middy: true below 500). Messages never contain credentials.
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
  headers?: Record<string, string>;
  /** Whether the message may be shown to the caller; by default only below 500. */
  expose?: boolean;
}

export class AppError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly expose: boolean;
  readonly upstream: UpstreamDetails | undefined;
  readonly headers: Record<string, string>;

  constructor(statusCode: number, code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.statusCode = statusCode;
    this.code = code;
    this.expose = options.expose ?? statusCode < 500;
    this.upstream = options.upstream;
    this.headers = options.headers ?? {};
  }
}

/** 400: a required parameter is absent. */
export class MissingParameterError extends AppError {
  constructor(parameter: string) {
    super(400, 'MissingParameter', `The required parameter ${parameter} is missing.`);
  }
}

/** 400: a parameter is present but not acceptable. */
export class InvalidParameterError extends AppError {
  constructor(parameter: string, reason: string, code = 'InvalidParameter') {
    super(400, code, `The parameter ${parameter} is invalid: ${reason}`);
  }
}

/** 405: the route does not answer this HTTP method; the Allow header names the one it does. */
export class MethodNotAllowedError extends AppError {
  /** `method` is shown to the caller: pass it through printable(). */
  constructor(method: string, allowed: 'GET' | 'POST') {
    super(405, 'InvalidHttpMethod', `The HTTP method ${method} is not allowed; use ${allowed}.`, { headers: { Allow: allowed } });
  }
}

/** 413: a request body over the function's limit. */
export class BodyTooLargeError extends AppError {
  constructor(maxBytes: number) {
    super(413, 'RequestEntityTooLarge', `The body is larger than ${maxBytes} bytes.`);
  }
}

/** 415: a body that is not declared as JSON. */
export class UnsupportedMediaTypeError extends AppError {
  constructor() {
    super(415, 'UnsupportedMediaType', 'The body must be JSON (Content-Type: application/json).');
  }
}

/** 400: the event is not an API Gateway HTTP API (payload 2.0) event. */
export class InvalidRequestError extends AppError {
  constructor() {
    super(400, 'InvalidRequest', 'The request is not an API Gateway HTTP API (payload 2.0) event.');
  }
}

/** 404: an Action, or a Version of it, we do not serve. */
export class InvalidActionOrVersionError extends AppError {
  constructor(message: string) {
    super(404, 'InvalidActionOrVersion', message);
  }
}

/** 400: Volcengine refused the request's parameters (its code is kept, e.g. InvalidParameter.IllegalRoomID). */
export class UpstreamParameterError extends AppError {
  constructor(code: string, options: AppErrorOptions = {}) {
    super(400, code, `Volcengine rejected the request parameters (${code}).`, options);
  }
}

/** 401: a callback whose signature does not match its AppId's SecretKey. */
export class SignatureMismatchError extends AppError {
  constructor() {
    super(401, 'SignatureDoesNotMatch', 'The callback signature does not match.');
  }
}

/** 400: a callback whose EventTime is outside the replay window. */
export class InvalidTimestampError extends AppError {
  constructor(maxSkewMs: number) {
    super(
      400,
      'InvalidTimestamp',
      `EventTime must be within ${Math.round(maxSkewMs / 1000)} seconds of now; the event looks like a replay.`,
    );
  }
}

/** 503: the archive could not be read or written in time; the caller may retry. */
export class ArchiveUnavailableError extends AppError {
  constructor(cause: unknown) {
    super(503, 'ServiceUnavailable.Archive', 'The archive could not be read or written; retry shortly.', {
      cause,
      headers: { 'Retry-After': '1' },
    });
  }
}

/** 503: a callback could not be registered and published within its answer budget; Volcengine delivers it again. */
export class CallbackBudgetExceededError extends AppError {
  constructor() {
    super(503, 'ServiceUnavailable', 'The event could not be handled in time; deliver it again.', { headers: { 'Retry-After': '1' } });
  }
}

/** 503: the stack's event bus did not accept a verified event; Volcengine delivers it again. */
export class EventBusUnavailableError extends AppError {
  constructor(cause: unknown) {
    super(503, 'ServiceUnavailable.EventBus', 'The event could not be published; deliver it again.', {
      cause,
      headers: { 'Retry-After': '1' },
    });
  }
}

/** 404: the task is unknown to Volcengine (or older than 72 h) and not in the archive. */
export class TaskNotFoundError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(404, 'ResourceNotFound.SegmentTask', message, options);
  }
}

/** 429: our own budget (or Volcengine's QPS quota) is used up; retry after the given seconds. */
export class ThrottledError extends AppError {
  constructor(message: string, retryAfterSeconds: number, options: AppErrorOptions = {}) {
    super(429, 'FlowLimitExceeded.QPSOverLimit', message, {
      ...options,
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}

/** 502: Volcengine failed or answered something we cannot use. The message is ours, so it may be shown. */
export class UpstreamError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(502, 'UpstreamError', message, { ...options, expose: true });
  }
}

/** 504: the per-request deadline passed before Volcengine answered. */
export class DeadlineExceededError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(504, 'UpstreamTimeout', message, { ...options, expose: true });
  }
}

/** 500: our own fault. Never exposed; the caller sees a generic message. */
export class InternalError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(500, 'InternalError', message, options);
  }
}

/** Anything thrown becomes an AppError; unknown errors become a non-exposed InternalError. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new InternalError('internal error', { cause: error });
}
