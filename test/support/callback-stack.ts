/** The callback function wired as the tests drive it: one invoker, its logs captured per call. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Registrations } from '../../lib/archive/registry.ts';
import { buildCallback } from '../../lib/callback/build.ts';
import { callbackSettings, type CallbackSettings } from '../../lib/config.ts';
import type { EventPublisher } from '../../lib/callback/publisher.ts';
import type { RecentRegistrations } from '../../lib/callback/recent-registrations.ts';
import type { HttpResult } from '../../lib/http/http-function.ts';
import { httpEvent, lambdaContext } from './http-events.ts';
import { captureOutput } from './logs.ts';

export interface CallbackReply extends HttpResult {
  json: any;
  /** What the function logged while answering. */
  logs: string;
}

export type CallbackInvoker = (body: string, overrides?: { method?: string; headers?: Record<string, string> }) => Promise<CallbackReply>;

export interface CallbackStackOptions {
  /**
   * The function's settings (its registry table and event bus, built by buildCallback as deployed);
   * a stub naming stores nobody reads when absent, with `registry` and `publisher` given.
   */
  settings?: CallbackSettings;
  /** The registry registrations go to, instead of the settings' (a test may put a fault in between). */
  registry?: Pick<Registrations, 'registerPending' | 'continueSighting'>;
  /** The event bus, instead of the settings' (the simulation's in-memory one). */
  publisher?: EventPublisher;
  /** The instance's memo of recent registrations; a fresh one per handler when absent. */
  recent?: RecentRegistrations;
  /** Callback SecretKeys by AppId, or one SecretKey every AppId shares; the settings' own source (SSM) when absent. */
  secrets?: Record<string, string> | string;
  /** The clock the skew window is checked against; Date.now when absent. */
  now?: () => number;
  maxBodyBytes?: number;
  /** The answer budget (Volcengine waits 5 s). */
  budgetMs?: number;
  logLevel?: 'DEBUG' | 'INFO' | 'SILENT';
}

const secretOf = (secrets: Record<string, string> | string, appId: string) =>
  typeof secrets === 'string' ? secrets : Object.hasOwn(secrets, appId) ? secrets[appId] : undefined;

/**
 * The callback function's settings, its stores and secrets the test's: the bucket, table and bus
 * are named only because the settings need them.
 */
const SETTINGS = callbackSettings({
  ARCHIVE_BUCKET: 'callback-test',
  REGISTRY_TABLE: 'callback-test',
  EVENT_BUS_NAME: 'callback-test',
  CALLBACK_SECRETS: '{"callback-test":"unused"}',
});

/** The callback handler as the tests wire it: the given SecretKeys, the function's settings (a 10-minute skew window). */
export function testCallbackHandler(options: CallbackStackOptions) {
  // The stub names stores nobody may reach: without settings, both stores must be given.
  if (!options.settings && !(options.registry && options.publisher))
    throw new Error('testCallbackHandler needs settings, or both a registry and a publisher');
  const settings = options.settings ?? SETTINGS;
  return buildCallback(
    { ...settings, maxBodyBytes: options.maxBodyBytes ?? settings.maxBodyBytes, budgetMs: options.budgetMs ?? settings.budgetMs },
    {
      ...(options.registry ? { registry: options.registry } : {}),
      ...(options.publisher ? { publisher: options.publisher } : {}),
      ...(options.recent ? { recent: options.recent } : {}),
      ...(options.secrets === undefined ? {} : { secretFor: async (appId: string) => secretOf(options.secrets!, appId) }),
      logger: new Logger({ serviceName: 'callback-test', logLevel: options.logLevel ?? 'INFO' }),
      metrics: new Metrics({ namespace: 'Test', serviceName: 'callback-test' }),
      ...(options.now ? { now: options.now } : {}),
    },
  );
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
