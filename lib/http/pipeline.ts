/**
 * The middy pipeline every HTTP function shares: Powertools logger context (and metrics, when
 * given), the official header-normaliser, security-header and error-handler middlewares, and
 * volcEnvelope, the one place where errors become Volcengine-envelope responses.
 */
import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpSecurityHeaders from '@middy/http-security-headers';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { InvalidRequestError } from '../errors.ts';
import { HttpApiEventSchema, type HttpApiEvent, type HttpResult } from './api-gateway.ts';
import type { EnvelopeState } from './envelope.ts';
import { envelopeOf, volcEnvelope } from './volc-envelope.ts';

export type HttpAnswer = (event: HttpApiEvent, envelope: EnvelopeState) => Promise<HttpResult>;

const FALLBACK_BODY = JSON.stringify({
  ResponseMetadata: { Service: 'rtc', Error: { Code: 'InternalError', Message: 'An internal error occurred.' } },
});

export function httpFunction(answer: HttpAnswer, options: { region: string; logger: Logger; metrics?: Metrics }) {
  const { region, logger, metrics } = options;
  const handler = async (rawEvent: unknown, context: Context): Promise<HttpResult> => {
    const parsed = HttpApiEventSchema.safeParse(rawEvent);
    if (!parsed.success) throw new InvalidRequestError();
    return answer(parsed.data, envelopeOf(context));
  };
  const pipeline = middy<unknown, HttpResult, Error, Context>(handler).use(injectLambdaContext(logger, { resetKeys: true }));
  if (metrics) pipeline.use(logMetrics(metrics));
  return pipeline
    .use(httpHeaderNormalizer())
    .use(httpSecurityHeaders())
    .use(httpErrorHandler({ logger: false, fallbackMessage: FALLBACK_BODY }))
    .use(volcEnvelope({ region, logger }));
}
