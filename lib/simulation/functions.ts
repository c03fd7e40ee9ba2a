/**
 * The real lookup, callback and archiver functions, wired for the simulation: the in-memory
 * object store (the one stand-in), the Volcengine model behind the upstream port, a virtual clock,
 * silent logs and no metrics output.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { ArchiveKeys } from '../archive/keys.ts';
import { MemoryObjectStore } from '../archive/memory-object-store.ts';
import { SegmentArchive } from '../archive/segment-archive.ts';
import { WatchRegistry } from '../archive/watch-registry.ts';
import { createArchiverHandler } from '../archive/handler.ts';
import type { ArchiveAccess } from '../archive/access.ts';
import type { ArchiveRunSummary } from '../archive/archiver.ts';
import { createCallbackHandler } from '../callback/handler.ts';
import { callbackSignature } from '../callback/signature.ts';
import { ArchiverEnvSchema, LookupEnvSchema, loadEnv } from '../config.ts';
import type { HttpResult } from '../http/api-gateway.ts';
import { createLookupHandler } from '../lookup/handler.ts';
import { SegmentTaskLookup } from '../lookup/segment-task-lookup.ts';
import type { SegmentTaskUpstream } from '../upstream.ts';
import type { VirtualClock } from './volcengine-model.ts';

const SECRET = 'simulation-callback-secret';
const REGION = 'cn-north-1';
/** Only for configuration checks: nothing in the simulation signs a request. */
const PLACEHOLDER_CREDENTIALS = { VOLC_ACCESS_KEY_ID: 'SIMULATION', VOLC_SECRET_ACCESS_KEY: 'SIMULATION', ARCHIVE_BUCKET: 'simulation' };

export interface SimulatedFunctions {
  access: ArchiveAccess;
  finalMarginMs: number;
  /** Runs the archiver once; `timeLeftMs` is its Lambda time budget in virtual time. */
  archive(timeLeftMs: () => number): Promise<ArchiveRunSummary>;
  lookup(query: Array<[string, string]>): Promise<HttpResult>;
  callback(appId: string, roomId: string, taskId: string, eventId: string): Promise<HttpResult>;
}

export function lambdaContext(timeLeftMs: () => number): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'simulation',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:simulation',
    memoryLimitInMB: '1024',
    awsRequestId: 'simulation',
    logGroupName: '/aws/lambda/simulation',
    logStreamName: 'simulation',
    getRemainingTimeInMillis: timeLeftMs,
    done() {},
    fail() {},
    succeed() {},
  };
}

function httpEvent(method: 'GET' | 'POST', rawQueryString: string, body?: string): Record<string, unknown> {
  return {
    version: '2.0',
    rawPath: '/',
    rawQueryString,
    headers: { 'content-type': 'application/json' },
    requestContext: { requestId: 'simulation', http: { method, path: '/' } },
    ...(body === undefined ? {} : { body, isBase64Encoded: false }),
  };
}

export type UpstreamsFor = (archiveQps: number) => { archiver: SegmentTaskUpstream; lookup: SegmentTaskUpstream };

export function simulatedFunctions(clock: VirtualClock, env: Record<string, string>, upstreamsFor: UpstreamsFor): SimulatedFunctions {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const now = () => clock.now;
  const logger = new Logger({ serviceName: 'simulation', logLevel: 'SILENT' });
  const metrics = new Metrics({ namespace: 'Simulation', serviceName: 'simulation' });
  const store = new MemoryObjectStore();
  const keys = new ArchiveKeys('');
  const access: ArchiveAccess = { archive: new SegmentArchive(store, keys), registry: new WatchRegistry(store, keys) };
  const archiverEnv = loadEnv(ArchiverEnvSchema, { ...PLACEHOLDER_CREDENTIALS, ...env });
  const lookupEnv = loadEnv(LookupEnvSchema, { ...PLACEHOLDER_CREDENTIALS, ...env });
  const upstreams = upstreamsFor(archiverEnv.ARCHIVE_QPS);
  const archiver = createArchiverHandler({ env: archiverEnv, access, upstream: upstreams.archiver, logger, metrics, now });
  const lookup = new SegmentTaskLookup({
    upstream: upstreams.lookup,
    deadlineMs: lookupEnv.LOOKUP_DEADLINE_MS,
    cacheEntries: lookupEnv.LOOKUP_CACHE_ENTRIES,
    terminalTtlMs: lookupEnv.LOOKUP_TERMINAL_TTL_MS,
    openArchive: async () => access,
    now,
  });
  const lookupHandler = createLookupHandler({ lookup, region: REGION, logger, now });
  const settings = { secretFor: async () => SECRET, maxSkewMs: 600_000, maxBodyBytes: 65_536, budgetMs: 4_000 };
  const callbackHandler = createCallbackHandler({ access, settings, logger, metrics, region: REGION, now });
  const context = lambdaContext(() => 10_000);
  return {
    access,
    finalMarginMs: archiverEnv.ARCHIVE_FINAL_MARGIN_MS,
    archive: (timeLeftMs) => archiver({ source: 'aws.events' }, lambdaContext(timeLeftMs)),
    lookup: async (query) => (await lookupHandler(httpEvent('GET', new URLSearchParams(query).toString()), context)) as HttpResult,
    async callback(appId, roomId, taskId, eventId) {
      const event = {
        EventType: 'SegmentRealTimeData',
        EventData: JSON.stringify({ AppId: appId, RoomId: roomId, TaskId: taskId, UserId: taskId }),
        EventTime: new Date(clock.now).toISOString(),
        EventId: eventId,
        AppId: appId,
        Version: '2020-12-01',
        Nonce: 'sim0',
      };
      const body = JSON.stringify({ ...event, Signature: callbackSignature(event, SECRET) });
      return (await callbackHandler(httpEvent('POST', '', body), context)) as HttpResult;
    },
  };
}
