/** How a failed Volcengine call is reported to a lookup caller. */
import {
  type AppError,
  DeadlineExceededError,
  InternalError,
  ThrottledError,
  UpstreamError,
  UpstreamParameterError,
  toAppError,
} from '../errors.ts';
import {
  VolcApiError,
  VolcBudgetExhaustedError,
  VolcCredentialsError,
  VolcDeadlineError,
  VolcMalformedResponseError,
  VolcTransportError,
} from '../volc/errors.ts';

/** Volcengine codes (and their sub-codes) that say our credentials or permissions are wrong, not the caller's request. */
const AUTH_CODES = [
  'SignatureDoesNotMatch',
  'InvalidAccessKey',
  'InvalidTimestamp',
  'MissingAuthenticationToken',
  'InvalidAuthorization',
  'InvalidCredential',
  'LackPolicy',
  'AccessDenied',
];
const isAuthCode = (code: string) => AUTH_CODES.some((prefix) => code.startsWith(prefix));

export function upstreamFailureToAppError(error: unknown): AppError {
  if (error instanceof VolcBudgetExhaustedError) {
    return new ThrottledError('The lookup budget for Volcengine calls is used up; retry shortly.', error.retryAfterMs / 1000, {
      cause: error,
    });
  }
  if (error instanceof VolcDeadlineError) {
    return new DeadlineExceededError('Volcengine did not answer before the lookup deadline.', { cause: error, upstream: error.upstream });
  }
  if (error instanceof VolcApiError) {
    const { code, httpStatus } = error.upstream;
    if (error.throttled) {
      return new ThrottledError('Volcengine is throttling calls for this account (60 per second); retry shortly.', 1, {
        cause: error,
        upstream: error.upstream,
      });
    }
    if (code && isAuthCode(code)) {
      return new UpstreamError(`Volcengine refused our credentials (${code}); the service configuration needs attention.`, {
        cause: error,
        upstream: error.upstream,
      });
    }
    if (code?.startsWith('InvalidParameter') || code === 'MissingParameter') {
      return new UpstreamParameterError(code, { cause: error, upstream: error.upstream });
    }
    return new UpstreamError(`Volcengine failed with HTTP ${httpStatus ?? '?'}${code ? ` (${code})` : ''}.`, {
      cause: error,
      upstream: error.upstream,
    });
  }
  if (error instanceof VolcMalformedResponseError) {
    return new UpstreamError('Volcengine answered with a response that could not be read.', { cause: error, upstream: error.upstream });
  }
  if (error instanceof VolcCredentialsError) {
    return new InternalError('the Volcengine credentials could not be loaded', { cause: error });
  }
  if (error instanceof VolcTransportError) {
    return new UpstreamError(`Volcengine could not be reached (${error.message.replace(/^.*\((.*)\)$/, '$1')}).`, { cause: error });
  }
  return toAppError(error);
}
