/**
 * Lookup instances in a process of their own: QUOTA_TEST_INSTANCES separately built lookup
 * handlers (each its own limiter, cache and client, as separate Lambda instances have), each
 * answering one request at a time from QUOTA_TEST_START for QUOTA_TEST_MS over the task ids in
 * QUOTA_TEST_TASKS. Prints one RESULT line of status counts.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { LookupEnvSchema, loadEnv } from '../../lib/config.ts';
import type { HttpResult } from '../../lib/http/api-gateway.ts';
import { buildLookupHandler } from '../../lib/lookup/wiring.ts';
import { getTaskQuery, httpEvent, lambdaContext } from '../support/http-events.ts';

const env = loadEnv(LookupEnvSchema, process.env);
const logger = new Logger({ serviceName: 'quota-instance', logLevel: 'SILENT' });
const handlers = Array.from({ length: Number(process.env.QUOTA_TEST_INSTANCES ?? 1) }, () => buildLookupHandler(env, logger));
const tasks = process.env.QUOTA_TEST_TASKS!.split(',');
// Every instance starts at the same instant, after loading (a cold start's CPU is not part of the measurement).
const start = Number(process.env.QUOTA_TEST_START);
// A serving instance is warm: one request each before the measured start (JIT, the connection to Volcengine).
await Promise.all(handlers.map((handler) => handler(httpEvent(getTaskQuery('quota-app', 'room', tasks[0]!)), lambdaContext())));
await new Promise((resolve) => setTimeout(resolve, Math.max(0, start - Date.now())));
const until = start + Number(process.env.QUOTA_TEST_MS);
const statuses: Record<string, number> = {};
let retryAfterMissing = 0;
await Promise.all(
  handlers.map(async (handler, h) => {
    for (let i = 0; Date.now() < until; i++) {
      const taskId = tasks[(i * 7 + h * 13 + process.pid) % tasks.length]!;
      const result = (await handler(httpEvent(getTaskQuery('quota-app', 'room', taskId)), lambdaContext())) as HttpResult;
      statuses[result.statusCode] = (statuses[result.statusCode] ?? 0) + 1;
      if (result.statusCode === 429 && !result.headers['Retry-After']) retryAfterMissing++;
    }
  }),
);
process.stdout.write(`RESULT ${JSON.stringify({ statuses, retryAfterMissing })}\n`);
