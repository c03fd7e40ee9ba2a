/**
 * How every error is answered over HTTP: its status, its Volcengine-style code, its headers
 * (Retry-After, Allow) and the message the caller sees. This is the one place that knows: errors
 * are raised in their own module's terms (lib/errors.ts, and the Volcengine client's
 * lib/volc/client.ts), and anything else is our own fault, answered 500 without its message.
 */
import {
  AppError,
  ArchiveUnavailableError,
  BodyTooLargeError,
  CallbackBudgetExceededError,
  EventBusUnavailableError,
  InvalidActionOrVersionError,
  InvalidPageTokenError,
  InvalidParameterError,
  InvalidRequestError,
  InvalidTimestampError,
  MethodNotAllowedError,
  MissingParameterError,
  SignatureMismatchError,
  TaskNotFoundError,
  UnsupportedMediaTypeError,
  type UpstreamDetails,
  QPS_OVER_LIMIT,
  VolcApiError,
  VolcBudgetExhaustedError,
  VolcDeadlineError,
  VolcError,
  VolcMalformedResponseError,
  VolcTransportError,
} from '../errors.ts';

export interface ErrorAnswer {
  statusCode: number;
  code: string;
  /** What the caller is shown: the error's own message, ours about Volcengine, or a generic one for our own faults. */
  message: string;
  headers: Record<string, string>;
  /** What Volcengine said, shown as UpstreamCode and UpstreamRequestId. */
  upstream?: UpstreamDetails | undefined;
}

const RETRY_AFTER_1 = { 'Retry-After': '1' };
const INTERNAL = 'An internal error occurred. Quote the RequestId when asking for help.';

/** Our errors by class: status, code, and the headers of the answer. */
const ANSWERS: Array<[abstract new (...args: never[]) => AppError, number, string, Record<string, string>?]> = [
  [MissingParameterError, 400, 'MissingParameter'],
  [InvalidParameterError, 400, 'InvalidParameter'],
  [InvalidPageTokenError, 400, 'InvalidParameter'],
  [InvalidRequestError, 400, 'InvalidRequest'],
  [InvalidTimestampError, 400, 'InvalidTimestamp'],
  [SignatureMismatchError, 401, 'SignatureDoesNotMatch'],
  [InvalidActionOrVersionError, 404, 'InvalidActionOrVersion'],
  [TaskNotFoundError, 404, 'ResourceNotFound.SegmentTask'],
  [MethodNotAllowedError, 405, 'InvalidHttpMethod'],
  [BodyTooLargeError, 413, 'RequestEntityTooLarge'],
  [UnsupportedMediaTypeError, 415, 'UnsupportedMediaType'],
  [ArchiveUnavailableError, 503, 'ServiceUnavailable.Archive', RETRY_AFTER_1],
  [CallbackBudgetExceededError, 503, 'ServiceUnavailable', RETRY_AFTER_1],
  [EventBusUnavailableError, 503, 'ServiceUnavailable.EventBus', RETRY_AFTER_1],
];

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

const answer = (statusCode: number, code: string, message: string, headers = {}, upstream?: UpstreamDetails): ErrorAnswer => ({
  statusCode,
  code,
  message,
  headers,
  upstream,
});
const internal = () => answer(500, 'InternalError', INTERNAL);

/** A failed Volcengine call: our budget or Volcengine's quota (429), its refusal of the parameters (400), the deadline (504), else 502. */
function volcAnswer(error: VolcError): ErrorAnswer {
  const { upstream } = error;
  const badGateway = (message: string) => answer(502, 'UpstreamError', message, {}, upstream);
  if (error instanceof VolcBudgetExhaustedError) {
    const retryAfter = { 'Retry-After': String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) };
    return answer(429, QPS_OVER_LIMIT, 'The lookup budget for Volcengine calls is used up; retry shortly.', retryAfter);
  }
  if (error instanceof VolcDeadlineError) {
    return answer(504, 'UpstreamTimeout', 'Volcengine did not answer before the lookup deadline.', {}, upstream);
  }
  if (error instanceof VolcMalformedResponseError) return badGateway('Volcengine answered with a response that could not be read.');
  if (error instanceof VolcTransportError) {
    return badGateway(`Volcengine could not be reached (${error.message.replace(/^.*\((.*)\)$/, '$1')}).`);
  }
  if (!(error instanceof VolcApiError)) return internal();
  const { code, httpStatus } = upstream;
  if (error.throttled) {
    return answer(
      429,
      QPS_OVER_LIMIT,
      'Volcengine is throttling calls for this account (60 per second); retry shortly.',
      RETRY_AFTER_1,
      upstream,
    );
  }
  if (code && AUTH_CODES.some((prefix) => code.startsWith(prefix))) {
    return badGateway(`Volcengine refused our credentials (${code}); the service configuration needs attention.`);
  }
  if (code?.startsWith('InvalidParameter') || code === 'MissingParameter') {
    return answer(400, code, `Volcengine rejected the request parameters (${code}).`, {}, upstream);
  }
  return badGateway(`Volcengine failed with HTTP ${httpStatus ?? '?'}${code ? ` (${code})` : ''}.`);
}

/**
 * How `error` is answered. Our own errors show their message below 500 only; anything not raised
 * on purpose is a 500 whose message is not shown.
 */
export function errorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof VolcError) return volcAnswer(error);
  const found = error instanceof AppError ? ANSWERS.find(([type]) => error instanceof type) : undefined;
  if (!found) return internal();
  const [, statusCode, code, headers] = found;
  const { message, upstream } = error as AppError;
  const shown = statusCode < 500 ? message : INTERNAL;
  return answer(statusCode, code, shown, error instanceof MethodNotAllowedError ? { Allow: error.allowed } : headers, upstream);
}
