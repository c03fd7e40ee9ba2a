/**
 * The one place where errors become responses: every error is turned into an AppError, logged
 * once, and answered in Volcengine's error envelope (the response is set here, so
 * @middy/http-error-handler, still in the pipeline, only answers what escapes this middleware).
 * It also gives each request its RequestId and logs its outcome.
 */
import type { MiddlewareObj, Request } from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { toAppError } from '../errors.ts';
import { errorBody, newRequestId, type EnvelopeState } from './envelope.ts';
import type { HttpResult } from './api-gateway.ts';

/** The Lambda context once volcEnvelope's `before` has run. */
export type EnvelopeContext = Context & { envelope: EnvelopeState };

export const envelopeOf = (context: Context): EnvelopeState => (context as EnvelopeContext).envelope;

export function volcEnvelope(options: { region: string; logger: Logger }): MiddlewareObj<unknown, HttpResult, Error, Context> {
  const { region, logger } = options;
  const finished = (request: Request<unknown, HttpResult, Error, Context>, statusCode: number, extra: Record<string, unknown> = {}) => {
    const state = envelopeOf(request.context);
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
      (request.context as EnvelopeContext).envelope = { requestId: newRequestId(), startedAt: performance.now() };
    },
    after: (request) => {
      finished(request, request.response?.statusCode ?? 200);
    },
    onError: (request) => {
      const error = toAppError(request.error);
      const context = request.context as EnvelopeContext;
      context.envelope ??= { requestId: newRequestId(), startedAt: performance.now() };
      const state = context.envelope;
      if (error.statusCode >= 500) {
        logger.error('request failed', {
          requestId: state.requestId,
          code: error.code,
          upstream: error.upstream,
          error: error.cause ?? error,
        });
      }
      finished(request, error.statusCode, {
        code: error.code,
        upstreamCode: error.upstream?.code,
        upstreamRequestId: error.upstream?.requestId,
      });
      request.response = {
        statusCode: error.statusCode,
        headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...error.headers },
        body: errorBody(state, region, error),
      };
    },
  };
}
