/**
 * The middy pipeline every HTTP function shares: Powertools logger context (and metrics, when
 * given), the official security-header middleware, and volcEnvelope, the one middleware that
 * renders answers and errors in Volcengine's envelope. A function reads its request (which names
 * the action and version) and answers it with a Result, or throws. A function that reads headers
 * brings the official header normaliser (the callback; the lookup reads none, and its bundle is
 * smaller without it).
 */
import middy, { type MiddlewareObj, type MiddyfiedHandler } from '@middy/core';
import httpSecurityHeaders from '@middy/http-security-headers';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { InvalidRequestError } from '../errors.ts';
import { HttpApiEventSchema, type HttpApiEvent, type HttpResult } from './api-gateway.ts';
import { volcEnvelope, type EnvelopeRequest, type EnvelopeState, type HttpAnswer } from './volc-envelope.ts';

/** A request read: the action (and version) it asks for, shown in its answer whatever the outcome. */
export interface NamedRequest {
  action: string;
  version?: string | undefined;
}

export interface HttpFunction<R extends NamedRequest> {
  /** Reads the event into a request; what this throws is answered without an action or version. */
  read(event: HttpApiEvent): R;
  /**
   * `context`: the invocation's (its time left); `signal`: middy's, aborted when middy gives up on
   * the invocation (its early timeout, just before Lambda's).
   */
  answer(request: R, context: Context, signal: AbortSignal): Promise<HttpAnswer>;
}

export type HttpHandler = MiddyfiedHandler<unknown, HttpResult, Error, Context, EnvelopeState>;

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
    .use(volcEnvelope({ region, logger }));
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
