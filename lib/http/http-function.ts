/**
 * The HTTP layer every function shares, from the API Gateway event to Volcengine's envelope:
 *
 * - the event (HTTP API, payload 2.0) as far as our functions read it, and the result they give;
 * - httpFunction, the middy pipeline: Powertools logger context (and metrics, when given), the
 *   official security-header middleware, the envelope below, then the function's `read` of the
 *   event into a request (which names the action and version) and its `answer`;
 * - the envelope: each request's state (its RequestId, when it started, the action and version it
 *   asked for) in middy's request.internal, what the function answered rendered as a 200 and
 *   whatever it threw as the error answer lib/http/errors.ts gives, the outcome logged once;
 * - the strict query reader a function's `read` uses.
 *
 * A function that reads headers brings the official header normaliser (the callback; the lookup
 * reads none, and its bundle is smaller without it).
 */
import { randomBytes } from 'node:crypto';
import middy, { type MiddlewareObj, type MiddyfiedHandler, type Request } from '@middy/core';
import httpSecurityHeaders from '@middy/http-security-headers';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { AppError, InvalidParameterError, InvalidRequestError, MissingParameterError } from '../errors.ts';
import { errorAnswer, type ErrorAnswer } from './errors.ts';

// ---- The event and the result ----

/**
 * @example { "version": "2.0", "routeKey": "GET /", "rawPath": "/",
 *   "rawQueryString": "Action=GetSegmentTask&Version=2023-11-01&AppId=a&RoomId=r&TaskId=t",
 *   "headers": { "accept": "application/json" },
 *   "requestContext": { "requestId": "JKJaXmPLvHcESHA=", "http": { "method": "GET", "path": "/" } } }
 */
const HttpApiEventSchema = z.looseObject({
  version: z.string().optional(),
  rawPath: z.string().default('/'),
  rawQueryString: z.string().default(''),
  headers: z.record(z.string(), z.string().optional()).nullish(),
  queryStringParameters: z.record(z.string(), z.string().optional()).nullish(),
  requestContext: z.looseObject({
    requestId: z.string().optional(),
    http: z.looseObject({ method: z.string(), path: z.string().optional() }),
  }),
  body: z.string().nullish(),
  isBase64Encoded: z.boolean().optional(),
});
export type HttpApiEvent = z.infer<typeof HttpApiEventSchema>;

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

// ---- The pipeline ----

/** A request read: the action (and version) it asks for, shown in its answer whatever the outcome. */
interface NamedRequest {
  action: string;
  version?: string | undefined;
}

/** What a function answers: its Result and its own headers (X-Answer-Source, …). */
export interface HttpAnswer {
  result: unknown;
  headers?: Record<string, string> | undefined;
}

interface HttpFunction<R extends NamedRequest> {
  /** Reads the event into a request; what this throws is answered without an action or version. */
  read(event: HttpApiEvent): R;
  /**
   * `context`: the invocation's (its time left); `signal`: middy's, aborted when middy gives up on
   * the invocation (its early timeout, just before Lambda's).
   */
  answer(request: R, context: Context, signal: AbortSignal): Promise<HttpAnswer>;
}

/** One request's state, in middy's request.internal. */
type EnvelopeState = {
  requestId: string;
  startedAt: number;
  /** Once the request is read: shown in its answer's ResponseMetadata, whatever the outcome. */
  action?: string | undefined;
  version?: string | undefined;
};

type EnvelopeRequest = Request<unknown, HttpResult | HttpAnswer, Error, Context, EnvelopeState>;

type HttpHandler = MiddyfiedHandler<unknown, HttpResult, Error, Context, EnvelopeState>;

export function httpFunction<R extends NamedRequest>(
  fn: HttpFunction<R>,
  options: {
    region: string;
    logger: Logger;
    metrics?: Metrics | undefined;
    /** Run on the event before it is read (e.g. @middy/http-header-normalizer). */
    beforeRead?: MiddlewareObj[];
  },
): HttpHandler {
  const { region, logger, metrics } = options;
  // The event is replaced by the request `read` made of it (below, once the envelope has its RequestId).
  const pipeline = middy<unknown, HttpResult | HttpAnswer, Error, Context, EnvelopeState>(
    (request: unknown, context: Context, { signal }: { signal: AbortSignal }) => fn.answer(request as R, context, signal),
  );
  pipeline.use(injectLambdaContext(logger, { resetKeys: true }));
  if (metrics) pipeline.use(logMetrics(metrics));
  pipeline
    .use(options.beforeRead ?? [])
    .use(httpSecurityHeaders())
    .use(volcEnvelope(region, logger));
  pipeline.before((request: EnvelopeRequest) => {
    const event = HttpApiEventSchema.safeParse(request.event);
    if (!event.success) throw new InvalidRequestError();
    const read = fn.read(event.data);
    request.internal.action = read.action;
    request.internal.version = read.version;
    request.event = read;
  });
  return pipeline as unknown as HttpHandler;
}

// ---- Volcengine's envelope ----

/** Same shape as Volcengine's: UTC timestamp to the second, then 16 uppercase hex digits. */
function newRequestId(now = Date.now()): string {
  const stamp = new Date(now).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${stamp}${randomBytes(8).toString('hex').toUpperCase()}`;
}

function responseMetadata(state: EnvelopeState, region: string) {
  return {
    RequestId: state.requestId,
    ...(state.action ? { Action: state.action } : {}),
    ...(state.version ? { Version: state.version } : {}),
    Service: 'rtc',
    Region: region,
  };
}

/** Never cached by intermediaries. */
const JSON_HEADERS = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' };

function successResult(state: EnvelopeState, region: string, answer: HttpAnswer): HttpResult {
  return {
    statusCode: 200,
    headers: { ...JSON_HEADERS, ...answer.headers },
    body: JSON.stringify({ ResponseMetadata: responseMetadata(state, region), Result: answer.result }),
  };
}

function errorResult(state: EnvelopeState, region: string, answer: ErrorAnswer): HttpResult {
  const { upstream } = answer;
  const error = {
    Code: answer.code,
    Message: answer.message,
    ...(upstream?.code ? { UpstreamCode: upstream.code } : {}),
    ...(upstream?.requestId ? { UpstreamRequestId: upstream.requestId } : {}),
  };
  return {
    statusCode: answer.statusCode,
    headers: { ...JSON_HEADERS, ...answer.headers },
    body: JSON.stringify({ ResponseMetadata: { ...responseMetadata(state, region), Error: error } }),
  };
}

/** The one middleware that renders answers and errors, and logs each request's outcome. */
function volcEnvelope(region: string, logger: Logger): MiddlewareObj<unknown, HttpResult | HttpAnswer, Error, Context, EnvelopeState> {
  const finished = (state: EnvelopeState, statusCode: number, extra: Record<string, unknown> = {}) => {
    logger.info('request finished', {
      requestId: state.requestId,
      action: state.action,
      version: state.version,
      statusCode,
      durationMs: Math.round(performance.now() - state.startedAt),
      ...extra,
    });
  };
  return {
    before: (request) => {
      request.internal.requestId = newRequestId();
      request.internal.startedAt = performance.now();
    },
    after: (request) => {
      const state = request.internal;
      request.response = successResult(state, region, request.response as HttpAnswer);
      finished(state, 200);
    },
    onError: (request) => {
      const state = request.internal;
      state.requestId ??= newRequestId();
      state.startedAt ??= performance.now();
      const error = request.error;
      const answer = errorAnswer(error);
      if (answer.statusCode >= 500) {
        logger.error('request failed', {
          requestId: state.requestId,
          code: answer.code,
          upstream: answer.upstream,
          error: error instanceof AppError && error.cause !== undefined ? error.cause : error,
        });
      }
      finished(state, answer.statusCode, {
        code: answer.code,
        upstreamCode: answer.upstream?.code,
        upstreamRequestId: answer.upstream?.requestId,
      });
      request.response = errorResult(state, region, answer);
    },
  };
}

// ---- The query ----

/** A raw query string's parameters, read strictly: each at most once, percent-encoding checked. */
export type QueryParameters = Map<string, string>;

const MAX_QUERY_LENGTH = 8192;

export function parseQuery(rawQueryString: string): QueryParameters {
  if (rawQueryString.length > MAX_QUERY_LENGTH)
    throw new InvalidParameterError('query string', `longer than ${MAX_QUERY_LENGTH} characters`);
  const parameters: QueryParameters = new Map();
  if (rawQueryString === '') return parameters;
  for (const part of rawQueryString.split('&')) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    const rawName = equals < 0 ? part : part.slice(0, equals);
    const rawValue = equals < 0 ? '' : part.slice(equals + 1);
    const name = decodeComponent(rawName, 'a query parameter name');
    const value = decodeComponent(rawValue, printable(name));
    if (parameters.has(name)) throw new InvalidParameterError(printable(name), 'it is given more than once');
    parameters.set(name, value);
  }
  return parameters;
}

export function requireParameter(parameters: QueryParameters, name: string): string {
  const value = parameters.get(name);
  if (value === undefined || value === '') throw new MissingParameterError(name);
  return value;
}

function decodeComponent(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw new InvalidParameterError(what, 'it is not valid percent-encoded UTF-8');
  }
}

/** A parameter name safe to echo in a message: printable ASCII, at most 64 characters. */
export function printable(name: string): string {
  const clean = name.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 61)}...` : clean;
}
