/** Volcengine's response envelope, used for our answers and our errors alike. */
import { randomBytes } from 'node:crypto';
import type { AppError } from '../errors.ts';

/** State of one HTTP request, shared by the handler and the envelope middleware. */
export interface EnvelopeState {
  requestId: string;
  action?: string | undefined;
  version?: string | undefined;
  startedAt: number;
}

export interface ResponseMetadata {
  RequestId: string;
  Action?: string;
  Version?: string;
  Service: string;
  Region: string;
  Error?: { Code: string; Message: string; UpstreamCode?: string; UpstreamRequestId?: string };
}

/** Same shape as Volcengine's: UTC timestamp to the second, then 16 uppercase hex digits. */
export function newRequestId(now = Date.now()): string {
  const stamp = new Date(now).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${stamp}${randomBytes(8).toString('hex').toUpperCase()}`;
}

export function responseMetadata(state: EnvelopeState, region: string): ResponseMetadata {
  return {
    RequestId: state.requestId,
    ...(state.action ? { Action: state.action } : {}),
    ...(state.version ? { Version: state.version } : {}),
    Service: 'rtc',
    Region: region,
  };
}

export function successBody(state: EnvelopeState, region: string, result: unknown): string {
  return JSON.stringify({ ResponseMetadata: responseMetadata(state, region), Result: result });
}

export function errorBody(state: EnvelopeState, region: string, error: AppError): string {
  const shown = error.expose ? error.message : 'An internal error occurred. Quote the RequestId when asking for help.';
  return JSON.stringify({
    ResponseMetadata: {
      ...responseMetadata(state, region),
      Error: {
        Code: error.code,
        Message: shown,
        ...(error.upstream?.code ? { UpstreamCode: error.upstream.code } : {}),
        ...(error.upstream?.requestId ? { UpstreamRequestId: error.upstream.requestId } : {}),
      },
    },
  });
}

/** A 200 answer in Volcengine's envelope; never cached by intermediaries. */
export function successResponse(state: EnvelopeState, region: string, result: unknown, headers: Record<string, string> = {}) {
  return {
    statusCode: 200,
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
    body: successBody(state, region, result),
  };
}
