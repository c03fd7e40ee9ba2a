/**
 * The whole task lifecycle on one clock: the lookup and callback functions and the archiver, over
 * one Volcengine emulator and one S3-protocol server, driven the way production lives it — the
 * archiver every five minutes, events in between.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { lookupSettings } from '../../lib/config.ts';
import type { HttpResult } from '../../lib/http/http-function.ts';
import { buildLookup } from '../../lib/lookup/build.ts';
import type { ArchiveRunSummary, ArchiverOptions } from '../../lib/archive/archiver.ts';
import type { EmulatedTask } from '../emulator/volc-emulator.ts';
import { startArchiverStack, type ArchiverStack } from './archiver-stack.ts';
import { callbackInvoker, type CallbackStackOptions } from './callback-stack.ts';
import { TEST_CREDENTIALS } from './credentials.ts';
import { httpEvent, lambdaContext } from './http-events.ts';

export const CALLBACK_SECRET = 'lifecycle-callback-secret-51d2';
export const RUN_INTERVAL_MS = 5 * 60_000;

export interface Reply {
  statusCode: number;
  headers: Record<string, string>;
  json: any;
}

export interface LifecycleStack extends ArchiverStack {
  /** One action of the lookup endpoint (GET with the query given). */
  action(name: string, params: Record<string, string>, version?: string): Promise<Reply>;
  /** One signed SegmentRealTimeData delivery for `task`, through the callback function. */
  callback(task: EmulatedTask, sequence?: number): Promise<Reply>;
  /** Advances the clock by five minutes and runs the archiver, `runs` times; `between` runs after each advance, before the run. */
  runEvery5Minutes(
    runs: number,
    between?: (step: number) => void | Promise<void>,
    overrides?: Partial<ArchiverOptions> | (() => Partial<ArchiverOptions>),
  ): Promise<ArchiveRunSummary[]>;
  /** GetSegmentTask calls the emulator received for one TaskId. */
  pollsOf(taskId: string): number;
}

const silent = (service: string) => new Logger({ serviceName: service, logLevel: 'SILENT' });

export interface LifecycleOptions {
  lookupEnv?: Record<string, string>;
  emulatorQps?: number;
  registryPageSize?: number;
  /** ARCHIVE_REFRESH_MS (one schedule unless given: every run asks about every running run again). */
  refreshMs?: number;
  /** What the callback function registers through (the stack's registry unless given: a test may put a fault in between). */
  callbackRegistry?: (registry: ArchiverStack['registry']) => CallbackStackOptions['registry'];
}

export async function startLifecycleStack(options: LifecycleOptions = {}): Promise<LifecycleStack> {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  // The clock is virtual but the emulator's QPS window is real time: days of runs pass in seconds, so its limit is lifted.
  const base = await startArchiverStack({
    emulator: { qpsLimits: { GetSegmentTask: options.emulatorQps ?? 1_000_000 } },
    registryPageSize: options.registryPageSize,
    refreshMs: options.refreshMs,
  });
  const settings = lookupSettings({
    VOLC_ENDPOINT: base.emulator.url,
    VOLC_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    VOLC_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    VOLC_RETRY_BASE_MS: '10',
    VOLC_RETRY_MAX_MS: '50',
    LOOKUP_DEADLINE_MS: '3000',
    ...base.env,
    ...options.lookupEnv,
  });
  const { handler: lookup } = buildLookup(settings, { logger: silent('lookup'), now: base.clock.now });
  const invokeCallback = callbackInvoker({
    registry: options.callbackRegistry?.(base.registry) ?? base.registry,
    publisher: base.publisher,
    secrets: CALLBACK_SECRET,
    now: base.clock.now,
    logLevel: 'SILENT',
  });
  const reply = (result: HttpResult): Reply => ({
    statusCode: result.statusCode,
    headers: (result.headers ?? {}) as Record<string, string>,
    json: JSON.parse(result.body),
  });

  return {
    ...base,
    async action(name, params, version = '2023-11-01') {
      const query: Array<[string, string]> = [['Action', name], ['Version', version], ...Object.entries(params)];
      return reply((await lookup(httpEvent(query), lambdaContext())) as HttpResult);
    },
    async callback(task, sequence = 0) {
      const answer = await invokeCallback(JSON.stringify(base.emulator.segmentEvent(task, CALLBACK_SECRET, { sequence })));
      return { statusCode: answer.statusCode, headers: answer.headers, json: answer.json };
    },
    async runEvery5Minutes(runs, between, overrides) {
      const summaries: ArchiveRunSummary[] = [];
      for (let step = 0; step < runs; step++) {
        base.clock.advance(RUN_INTERVAL_MS);
        await between?.(step);
        summaries.push(await base.run(typeof overrides === 'function' ? overrides() : overrides));
      }
      return summaries;
    },
    pollsOf(taskId) {
      return base.emulator.callsOf('GetSegmentTask').filter((call) => call.query.TaskId === taskId).length;
    },
  };
}
