/**
 * Lookup instances in a process of their own, for the fleet test and the quota bench:
 * QUOTA_INSTANCES separately built lookup handlers (each its own limiter, cache and client, as
 * separate Lambda instances have) over the task ids in QUOTA_TASKS for QUOTA_MS from the start
 * the parent gives: the process prints READY once its instances are warm (they serve for
 * QUOTA_WARM_MS first) and reads `START <epoch ms>` on stdin. Closed loop (QUOTA_RATE unset):
 * each answers one request at a time, back to back. Open loop: requests arrive at QUOTA_RATE per
 * second per instance, whether answered or not. QUOTA_SKEW_MS skews the clock the shared quota
 * reads. Prints one RESULT line of status counts and the quota's counters over the measured time.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { lookupSettings } from '../../lib/config.ts';
import type { HttpResult } from '../../lib/http/http-function.ts';
import { buildLookup } from '../../lib/lookup/build.ts';
import type { QuotaStats } from '../../lib/quota/fleet-limiter.ts';
import { getTaskQuery, httpEvent, lambdaContext } from '../support/http-events.ts';

const settings = lookupSettings(process.env);
const logger = new Logger({ serviceName: 'quota-instance', logLevel: 'SILENT' });
// QUOTA_SKEW_MS: this process's clock, as the shared quota reads it, runs that far ahead (behind, when negative).
const skew = Number(process.env.QUOTA_SKEW_MS ?? 0);
const quotaNow = () => performance.timeOrigin + performance.now() + skew;
const lookups = Array.from({ length: Number(process.env.QUOTA_INSTANCES ?? 1) }, () => buildLookup(settings, { logger, quotaNow }));
const handlers = lookups.map((lookup) => lookup.handler);
const tasks = process.env.QUOTA_TASKS!.split(',');
const rate = process.env.QUOTA_RATE ? Number(process.env.QUOTA_RATE) : undefined;
const statuses: Record<string, number> = {};
let retryAfterMissing = 0;

const quota: Partial<QuotaStats> = {};
const drain = () => {
  for (const { quota: counters } of lookups) {
    if (!counters) continue;
    for (const [name, value] of Object.entries(counters.drainStats()))
      quota[name as keyof QuotaStats] = (quota[name as keyof QuotaStats] ?? 0) + value;
  }
};

const ask = async (handler: (typeof handlers)[number], i: number) => {
  const taskId = tasks[(i * 7 + process.pid) % tasks.length]!;
  const result = (await handler(httpEvent(getTaskQuery('quota-app', 'room', taskId)), lambdaContext())) as HttpResult;
  statuses[result.statusCode] = (statuses[result.statusCode] ?? 0) + 1;
  if (result.statusCode === 429 && !result.headers['Retry-After']) retryAfterMissing++;
};
/** The measured start, from the parent's `START <epoch ms>` line on stdin. */
async function startFromParent(): Promise<number> {
  let input = '';
  for await (const chunk of process.stdin) {
    input += chunk;
    const match = /START (\d+)\n/.exec(input);
    if (match) return Number(match[1]);
  }
  throw new Error('stdin closed before START');
}
const sleepUntil = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

// A serving instance is warm (JIT, the connection to Volcengine): one request each before the measured
// start, or requests back to back for QUOTA_WARM_MS, as instances that have been serving are.
const warmUntil = Date.now() + Number(process.env.QUOTA_WARM_MS ?? 0);
await Promise.all(
  handlers.map(async (handler) => {
    do await handler(httpEvent(getTaskQuery('quota-app', 'room', tasks[0]!)), lambdaContext());
    while (Date.now() < warmUntil);
  }),
);
const readyAt = Date.now();
process.stdout.write('READY\n');
const start = await startFromParent();
const until = start + Number(process.env.QUOTA_MS);
await sleepUntil(start);
drain();
for (const key of Object.keys(quota)) delete quota[key as keyof QuotaStats];
if (rate === undefined) {
  await Promise.all(
    handlers.map(async (handler, h) => {
      for (let i = h * 13; Date.now() < until; i++) await ask(handler, i);
    }),
  );
} else {
  const pending: Array<Promise<void>> = [];
  for (let i = 0, next = start; next < until; i++, next += 1000 / (rate * handlers.length)) {
    await sleepUntil(next);
    pending.push(ask(handlers[i % handlers.length]!, i));
  }
  await Promise.all(pending);
}
drain();
process.stdout.write(`RESULT ${JSON.stringify({ statuses, retryAfterMissing, quota, readyBeforeStartMs: start - readyAt })}\n`);
