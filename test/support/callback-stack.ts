/** The callback function wired as the tests drive it: one invoker, its logs captured per call. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { ArchiveAccess } from '../../lib/archive/access.ts';
import { createCallbackHandler } from '../../lib/callback/handler.ts';
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
  access: ArchiveAccess;
  /** Callback SecretKeys by AppId. */
  secrets: Record<string, string>;
  now: () => number;
  maxBodyBytes?: number;
  /** The answer budget (Volcengine waits 5 s). */
  budgetMs?: number;
  logLevel?: 'INFO' | 'SILENT';
}

export function callbackInvoker(options: CallbackStackOptions): CallbackInvoker {
  const handler = createCallbackHandler({
    access: options.access,
    settings: {
      secretFor: async (appId) => options.secrets[appId],
      maxSkewMs: 10 * 60_000,
      maxBodyBytes: options.maxBodyBytes ?? 65_536,
      budgetMs: options.budgetMs ?? 4_000,
    },
    logger: new Logger({ serviceName: 'callback-test', logLevel: options.logLevel ?? 'INFO' }),
    metrics: new Metrics({ namespace: 'Test', serviceName: 'callback-test' }),
    region: 'cn-north-1',
    now: options.now,
  });
  return async (body, overrides = {}) => {
    const output = captureOutput();
    try {
      const event = httpEvent('', {
        method: overrides.method ?? 'POST',
        path: '/callbacks/volcengine',
        body,
        headers: { 'content-type': 'application/json', ...overrides.headers },
      });
      const result = (await handler(event, lambdaContext())) as HttpResult;
      return { ...result, json: JSON.parse(result.body), logs: output.text() };
    } finally {
      output.restore();
    }
  };
}
