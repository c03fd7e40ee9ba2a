/** Builds API Gateway HTTP API events and Lambda contexts from the JSON fixtures. */
import { readFileSync } from 'node:fs';
import type { Context } from 'aws-lambda';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
const baseEvent = fixture('events/http-api-get.json');
const baseContext = fixture('lambda-context.json');

export interface EventOverrides {
  method?: string;
  path?: string;
  body?: string;
  headers?: Record<string, string>;
}

/** `query` is a raw query string or pairs, encoded here with encodeURIComponent. */
export function httpEvent(query: string | Array<[string, string]>, overrides: EventOverrides = {}): Record<string, unknown> {
  const rawQueryString =
    typeof query === 'string' ? query : query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const event = structuredClone(baseEvent);
  event.rawQueryString = rawQueryString;
  event.queryStringParameters = Object.fromEntries(new URLSearchParams(rawQueryString));
  event.rawPath = overrides.path ?? '/';
  event.routeKey = `${overrides.method ?? 'GET'} ${event.rawPath}`;
  event.requestContext.http.method = overrides.method ?? 'GET';
  event.requestContext.http.path = event.rawPath;
  if (overrides.body !== undefined) event.body = overrides.body;
  if (overrides.headers) Object.assign(event.headers, overrides.headers);
  return event;
}

export function lambdaContext(remainingMs = 30_000): Context {
  const deadline = Date.now() + remainingMs;
  return { ...baseContext, getRemainingTimeInMillis: () => deadline - Date.now(), done() {}, fail() {}, succeed() {} } as Context;
}

export const getTaskQuery = (appId: string, roomId: string, taskId: string, version = '2023-11-01'): Array<[string, string]> => [
  ['Action', 'GetSegmentTask'],
  ['Version', version],
  ['AppId', appId],
  ['RoomId', roomId],
  ['TaskId', taskId],
];
