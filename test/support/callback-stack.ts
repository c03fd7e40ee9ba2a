/** The callback function wired as the tests drive it: one invoker, its logs captured per call. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Registrations } from '../../lib/archive/registry.ts';
import { createCallbackHandler } from '../../lib/callback/handler.ts';
import type { EventPublisher } from '../../lib/callback/publisher.ts';
import type { RecentRegistrations } from '../../lib/callback/recent-registrations.ts';
import type { HttpResult } from '../../lib/http/api-gateway.ts';
import { httpEvent, lambdaContext } from './http-events.ts';
import { captureOutput } from './logs.ts';

export interface CallbackReply extends HttpResult {
  json: any;
  /** What the function logged while answering. */
  logs: string;
}

export type CallbackInvoker = (body: string, overrides?: { method?: string; headers?: Record<string, string> }) => Promise<CallbackReply>;

export interface CallbackStackOptions {
  registry: Pick<Registrations, 'registerPending' | 'continueSighting'>;
  /** The event bus (an EventBridgePublisher on the test's EventBridge peer). */
  publisher: EventPublisher;
  /** The instance's memo of recent registrations; a fresh one per handler when absent. */
  recent?: RecentRegistrations;
  /** Callback SecretKeys by AppId, or one SecretKey every AppId shares. */
  secrets: Record<string, string> | string;
  /** The clock the skew window is checked against; Date.now when absent. */
  now?: () => number;
  maxBodyBytes?: number;
  /** The answer budget (Volcengine waits 5 s). */
  budgetMs?: number;
  logLevel?: 'DEBUG' | 'INFO' | 'SILENT';
}

const secretOf = (secrets: Record<string, string> | string, appId: string) =>
  typeof secrets === 'string' ? secrets : Object.hasOwn(secrets, appId) ? secrets[appId] : undefined;

/** The callback handler as the tests wire it: the given SecretKeys, a 10-minute skew window. */
export function testCallbackHandler(options: CallbackStackOptions) {
  return createCallbackHandler({
    registry: options.registry,
    publisher: options.publisher,
    ...(options.recent ? { recent: options.recent } : {}),
    settings: {
      secretFor: async (appId) => secretOf(options.secrets, appId),
      maxSkewMs: 10 * 60_000,
      maxBodyBytes: options.maxBodyBytes ?? 65_536,
      budgetMs: options.budgetMs ?? 4_000,
    },
    logger: new Logger({ serviceName: 'callback-test', logLevel: options.logLevel ?? 'INFO' }),
    metrics: new Metrics({ namespace: 'Test', serviceName: 'callback-test' }),
    region: 'cn-north-1',
    ...(options.now ? { now: options.now } : {}),
  });
}

/** The API Gateway event of a callback delivery: POST, JSON, to the callback route. */
export function callbackEvent(body: string, overrides: { method?: string; headers?: Record<string, string> } = {}) {
  return httpEvent('', {
    method: overrides.method ?? 'POST',
    path: '/callbacks/volcengine',
    body,
    headers: { 'content-type': 'application/json', ...overrides.headers },
  });
}

export function callbackInvoker(options: CallbackStackOptions): CallbackInvoker {
  const handler = testCallbackHandler(options);
  return async (body, overrides = {}) => {
    const output = captureOutput();
    try {
      const result = (await handler(callbackEvent(body, overrides), lambdaContext())) as HttpResult;
      return { ...result, json: JSON.parse(result.body), logs: output.text() };
    } finally {
      output.restore();
    }
  };
}
