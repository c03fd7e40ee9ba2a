/**
 * Volcengine's response envelope, for our answers and our errors alike, and the one middleware
 * that renders both. It keeps each request's state (its RequestId, when it started, the action
 * and version it asked for) in middy's request.internal, turns what the function answered into
 * a 200 and whatever it threw into the error answer lib/http/errors.ts gives, and logs the
 * request's outcome once.
 */
import { randomBytes } from 'node:crypto';
import type { MiddlewareObj, Request } from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { AppError } from '../errors.ts';
import type { HttpResult } from './api-gateway.ts';
import { errorAnswer, type ErrorAnswer } from './errors.ts';

/** What a function answers: its Result and its own headers (X-Answer-Source, …). */
export interface HttpAnswer {
  result: unknown;
  headers?: Record<string, string> | undefined;
}

/** One request's state, in middy's request.internal. */
export type EnvelopeState = {
  requestId: string;
  startedAt: number;
  /** Once the request is read: shown in its answer's ResponseMetadata, whatever the outcome. */
  action?: string | undefined;
  version?: string | undefined;
};

export type EnvelopeRequest = Request<unknown, HttpResult | HttpAnswer, Error, Context, EnvelopeState>;

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

export function volcEnvelope(options: {
  region: string;
  logger: Logger;
}): MiddlewareObj<unknown, HttpResult | HttpAnswer, Error, Context, EnvelopeState> {
  const { region, logger } = options;
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
