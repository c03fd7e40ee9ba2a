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
    this.expose = statusCode < 500;
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

/** 4xx chosen by the caller's request shape (wrong method, body too large, ...). */
export class RequestRejectedError extends AppError {}

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
    super(502, 'UpstreamError', message, options);
    (this as { expose: boolean }).expose = true;
  }
}

/** 504: the per-request deadline passed before Volcengine answered. */
export class DeadlineExceededError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(504, 'UpstreamTimeout', message, options);
    (this as { expose: boolean }).expose = true;
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
