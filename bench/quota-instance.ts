/**
 * Lookup instances for `npm run bench -- quota`, in a process of their own: QUOTA_BENCH_INSTANCES
 * separately built lookup handlers offered QUOTA_BENCH_RATE requests per second each, open loop
 * (arrivals do not wait for answers), from QUOTA_BENCH_START for QUOTA_BENCH_MS.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { LookupEnvSchema, loadEnv } from '../lib/config.ts';
import type { HttpResult } from '../lib/http/api-gateway.ts';
import { buildLookupHandler } from '../lib/lookup/wiring.ts';
import { getTaskQuery, httpEvent, lambdaContext } from '../test/support/http-events.ts';

const env = loadEnv(LookupEnvSchema, process.env);
const logger = new Logger({ serviceName: 'quota-bench', logLevel: (process.env.QUOTA_BENCH_LOG_LEVEL ?? 'SILENT') as 'SILENT' });
const instances = Number(process.env.QUOTA_BENCH_INSTANCES ?? 1);
const handlers = Array.from({ length: instances }, () => buildLookupHandler(env, logger));
const tasks = process.env.QUOTA_BENCH_TASKS!.split(',');
const rate = Number(process.env.QUOTA_BENCH_RATE);
const start = Number(process.env.QUOTA_BENCH_START);
const until = start + Number(process.env.QUOTA_BENCH_MS);
const statuses: Record<string, number> = {};
const pending: Array<Promise<void>> = [];
// A serving instance is warm: one request each before the measured start (JIT, the connection to Volcengine).
await Promise.all(handlers.map((handler) => handler(httpEvent(getTaskQuery('bench-app', 'room', tasks[0]!)), lambdaContext())));
await new Promise((resolve) => setTimeout(resolve, Math.max(0, start - Date.now())));
for (let i = 0, next = start; next < until; i++, next += 1000 / (rate * instances)) {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
  const handler = handlers[i % instances]!;
  const taskId = tasks[(i * 7 + process.pid) % tasks.length]!;
  pending.push(
    (handler(httpEvent(getTaskQuery('bench-app', 'room', taskId)), lambdaContext()) as Promise<HttpResult>).then((result) => {
      statuses[result.statusCode] = (statuses[result.statusCode] ?? 0) + 1;
    }),
  );
}
await Promise.all(pending);
process.stdout.write(`RESULT ${JSON.stringify({ statuses })}\n`);
