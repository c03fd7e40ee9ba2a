/**
 * The real lookup, callback and archiver functions, wired for the simulation: several instances of
 * each (as Lambda runs them), each with its own clock (the scheduler's time plus its skew), its
 * own memory and the same stores — the in-memory object store and registry (the stand-ins, held to
 * the same fidelity tests as S3 and DynamoDB), reached through the fault injector and the request
 * counter (simulation/requests.ts), which also counts invocations and event-bus entries — and the
 * Volcengine model behind the upstream port. Logs are silent; metrics are not emitted.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { ArchiveAccess } from '../lib/archive/access.ts';
import type { ArchiveRunSummary } from '../lib/archive/archiver.ts';
import { buildArchiver } from '../lib/archive/build.ts';
import { MemoryObjectStore } from './memory-object-store.ts';
import { MemoryRegistry } from './memory-registry.ts';
import type { WatchRegistry } from '../lib/archive/registry.ts';
import { ArchiveKeys, SegmentArchive } from '../lib/archive/segment-archive.ts';
import { buildCallback } from '../lib/callback/build.ts';
import { MemoryPublisher } from './memory-publisher.ts';
import { callbackSignature } from '../lib/callback/signature.ts';
import { archiverSettings, callbackSettings, lookupSettings } from '../lib/config.ts';
import type { HttpResult } from '../lib/http/http-function.ts';
import { buildLookup } from '../lib/lookup/build.ts';
import type { TaskAddress } from '../lib/volc/schemas.ts';
import type { AppliedRegistration, StoreCalls } from './faults.ts';
import { RequestCounter, type SimulatedFunction } from './requests.ts';
import type { Scheduler } from './scheduler.ts';
import type { VolcengineModel } from './volcengine-model.ts';

const SECRET = 'simulation-callback-secret';
/** Only for configuration checks: nothing in the simulation signs a request or opens a bucket. */
const PLACEHOLDERS = {
  VOLC_ACCESS_KEY_ID: 'SIMULATION',
  VOLC_SECRET_ACCESS_KEY: 'SIMULATION',
  ARCHIVE_BUCKET: 'simulation',
  REGISTRY_TABLE: 'simulation',
  EVENT_BUS_NAME: 'simulation',
  CALLBACK_SECRETS: JSON.stringify({ simulation: SECRET }),
};
/** Instances of each function: the archiver's second one serves duplicate deliveries of a tick. */
const INSTANCES = { archiver: 2, lookup: 3, callback: 3 };

export interface CallbackDelivery {
  address: TaskAddress;
  eventId: string;
  /** Volcengine's EventTime (the scenario's time of the event, whatever the delivery). */
  eventTime: number;
}

export interface SimulatedFunctions {
  /** The stores themselves, without faults: what the simulation reads its results from. */
  access: ArchiveAccess<WatchRegistry>;
  /** The stack's event bus: every event the callback instances published, in order. */
  bus: MemoryPublisher;
  /** The AWS requests and Volcengine calls the functions made, by function. */
  requests: RequestCounter;
  finalMarginMs: number;
  /**
   * The shortest refresh interval of a run of an app not seen reusing TaskIds
   * (ARCHIVE_NO_REUSE_REFRESH_MS, or ARCHIVE_REFRESH_MS when longer): a running run's end is captured within about this long (plus a
   * schedule) while the share allows.
   */
  refreshMs: number;
  /**
   * Runs the archiver on instance `instance` for schedule tick `tick`, as invocation `requestId`
   * (a retry keeps it); `timeLeftMs` is its Lambda time left.
   */
  archive(instance: number, tick: number, requestId: string, timeLeftMs: () => number): Promise<ArchiveRunSummary>;
  lookup(instance: number, query: Array<[string, string]>): Promise<HttpResult>;
  callback(instance: number, delivery: CallbackDelivery): Promise<HttpResult>;
  instances: typeof INSTANCES;
  /** Each instance's clock skew, by function. */
  skews: Record<keyof typeof INSTANCES, number[]>;
}

export function lambdaContext(timeLeftMs: () => number, awsRequestId = 'simulation'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'simulation',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:simulation',
    memoryLimitInMB: '1024',
    awsRequestId,
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

export interface SimulationParts {
  scheduler: Scheduler;
  model: VolcengineModel;
  calls: StoreCalls;
  env: Record<string, string>;
  onRegistered: (registration: AppliedRegistration) => void;
  onArchiverCall: (address: TaskAddress, at: number) => void;
}

/**
 * The stores (in memory) and how the functions reach them: through the request counter, then the
 * fault injector (faults outside, counting inside: a call the injector fails before it reaches the
 * store is not counted).
 */
function stores(parts: SimulationParts, requests: RequestCounter) {
  const keys = new ArchiveKeys('');
  const objects = new MemoryObjectStore();
  const registry = new MemoryRegistry();
  const access: ArchiveAccess<WatchRegistry> = { archive: new SegmentArchive(objects, keys), registry };
  const faulty: ArchiveAccess<WatchRegistry> = {
    archive: new SegmentArchive(parts.calls.objectStore(requests.objectStore(objects)), keys),
    registry: parts.calls.registry(requests.registry(registry), parts.onRegistered),
  };
  return { access, faulty };
}

export function simulatedFunctions(parts: SimulationParts): SimulatedFunctions {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const { scheduler, model, calls } = parts;
  const logger = new Logger({ serviceName: 'simulation', logLevel: 'SILENT' });
  const metrics = new Metrics({ namespace: 'Simulation', serviceName: 'simulation' });
  const requests = new RequestCounter(scheduler);
  const { access, faulty } = stores(parts, requests);
  const forArchiver = archiverSettings({ ...PLACEHOLDERS, ...parts.env });
  const skews = {
    archiver: Array.from({ length: INSTANCES.archiver }, () => calls.skew()),
    lookup: Array.from({ length: INSTANCES.lookup }, () => calls.skew()),
    callback: Array.from({ length: INSTANCES.callback }, () => calls.skew()),
  };
  const clockOf = (skew: number) => () => scheduler.now + skew;

  const archivers = skews.archiver.map(
    (skew) =>
      buildArchiver(forArchiver, {
        access: faulty,
        upstream: model.port({
          ratePerSecond: forArchiver.quota.bucket.qps,
          onCall: (address, at) => {
            requests.upstreamCall();
            parts.onArchiverCall(address, at);
          },
        }),
        logger,
        metrics,
        now: clockOf(skew),
      }).handler,
  );
  const forLookup = lookupSettings({ ...PLACEHOLDERS, ...parts.env });
  const lookups = skews.lookup.map(
    (skew) =>
      buildLookup(forLookup, {
        upstream: model.port({ onCall: () => requests.upstreamCall() }),
        access: faulty,
        logger,
        now: clockOf(skew),
      }).handler,
  );
  const forCallback = callbackSettings({ ...PLACEHOLDERS, ...parts.env });
  const bus = new MemoryPublisher();
  // Each instance keeps its own memo of recent registrations, as each Lambda instance does.
  const callbacks = skews.callback.map((skew) =>
    buildCallback(forCallback, {
      registry: faulty.registry,
      publisher: requests.publisher(bus),
      secretFor: async () => SECRET,
      logger,
      metrics,
      now: clockOf(skew),
    }),
  );
  const context = lambdaContext(() => 10_000);
  /** One Lambda invocation of `name`: counted, and its virtual time once it finishes. */
  const invocation = async <T>(name: SimulatedFunction, run: () => Promise<T>): Promise<T> => {
    const finished = requests.invoked(name);
    try {
      return await run();
    } finally {
      finished();
    }
  };
  return {
    access,
    bus,
    requests,
    finalMarginMs: forArchiver.archiver.finalMarginMs,
    refreshMs: Math.max(forArchiver.archiver.refreshMs, forArchiver.archiver.noReuseRefreshMs),
    instances: INSTANCES,
    skews,
    archive: (instance, tick, requestId, timeLeftMs) =>
      invocation('archiver', () =>
        archivers[instance]!({ source: 'aws.events', time: new Date(tick).toISOString() }, lambdaContext(timeLeftMs, requestId)),
      ),
    lookup: (instance, query) =>
      invocation(
        'lookup',
        async () => (await lookups[instance]!(httpEvent('GET', new URLSearchParams(query).toString()), context)) as HttpResult,
      ),
    callback: (instance, delivery) =>
      invocation('callback', async () => (await callbacks[instance]!(httpEvent('POST', '', signedBody(delivery)), context)) as HttpResult),
  };
}

/** A signed SegmentRealTimeData delivery's body, as Volcengine sends it. */
function signedBody({ address, eventId, eventTime }: CallbackDelivery): string {
  const event = {
    EventType: 'SegmentRealTimeData',
    EventData: JSON.stringify({ AppId: address.appId, RoomId: address.roomId, TaskId: address.taskId, UserId: address.taskId }),
    EventTime: new Date(eventTime).toISOString(),
    EventId: eventId,
    AppId: address.appId,
    Version: '2020-12-01',
    Nonce: 'sim0',
  };
  return JSON.stringify({ ...event, Signature: callbackSignature(event, SECRET) });
}
