/** The lookup function on the shared quota (QUOTA_TABLE in dynalite): answers, refusals, the fallback, metrics. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupSettings } from '../../lib/config.ts';
import type { HttpResult } from '../../lib/http/http-function.ts';
import { buildLookup } from '../../lib/lookup/build.ts';
import { DynamoDbQuotaStore } from '../../lib/quota/quota-store.ts';
import { DynaliteServer, QUOTA_TABLE } from '../dynamodb/dynalite-server.ts';
import { VolcEmulator } from '../emulator/volc-emulator.ts';
import { startArchiveStack, type ArchiveStack } from '../support/archive-stack.ts';
import { TEST_CREDENTIALS } from '../support/credentials.ts';
import { getTaskQuery, httpEvent, lambdaContext } from '../support/http-events.ts';
import { captureOutput } from '../support/logs.ts';
import { publishedMetrics, uncatalogued } from '../support/metrics.ts';

let emulator: VolcEmulator;
let dynalite: DynaliteServer;
let archive: ArchiveStack;
const ARCHIVE_PREFIX = 'lookup-quota/';
beforeAll(async () => {
  archive = await startArchiveStack(ARCHIVE_PREFIX);
  emulator = new VolcEmulator({ credentials: [TEST_CREDENTIALS] });
  await emulator.start();
  emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'task' });
  dynalite = new DynaliteServer();
  await dynalite.start();
});
afterAll(async () => {
  await emulator.stop();
  await dynalite.stop();
  await archive.stop();
});

async function lookupOn(env: Record<string, string>) {
  // The template's table name, so that the IAM evaluation judges these calls against the deployed policy; emptied per case.
  const table = QUOTA_TABLE;
  if (!env.DYNAMODB_ENDPOINT) await dynalite.resetQuotaTable();
  const settings = lookupSettings({
    VOLC_ENDPOINT: emulator.url,
    VOLC_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    VOLC_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    QUOTA_TABLE: table,
    DYNAMODB_ENDPOINT: dynalite.url,
    LOOKUP_DEADLINE_MS: '2000',
    LOOKUP_TERMINAL_TTL_MS: '0',
    ...env,
  });
  const { handler } = buildLookup(settings, {
    logger: new Logger({ serviceName: 'lookup-quota', logLevel: 'WARN' }),
    metrics: new Metrics({ namespace: 'RtcSegmentTasks', serviceName: 'lookup-quota' }),
  });
  const store = new DynamoDbQuotaStore(table, { endpoint: dynalite.url, region: 'us-east-1' });
  const get = async (query = getTaskQuery('app', 'room', 'task')) => {
    const output = captureOutput();
    try {
      const result = (await handler(httpEvent(query), lambdaContext())) as HttpResult;
      return { ...result, json: JSON.parse(result.body), logs: output.jsonLines() };
    } finally {
      output.restore();
    }
  };
  return { get, store };
}

/** The archive, for lookups that have one. */
const archiveEnv = () => {
  const { ARCHIVE_BUCKET, S3_ENDPOINT, S3_FORCE_PATH_STYLE, REGISTRY_TABLE } = archive.env as Record<string, string>;
  // The registry's table is on this test's dynalite too (DynaliteServer creates both tables).
  return { ARCHIVE_BUCKET, ARCHIVE_PREFIX, S3_ENDPOINT, S3_FORCE_PATH_STYLE, REGISTRY_TABLE } as Record<string, string>;
};

/** Other instances take a share's slots for the next `ms`. */
const hold = (store: DynamoDbQuotaStore, share: 'lookup' | 'archiver', ms: number) => {
  const now = Date.now();
  return store.take({ share, op: 'restart', spanMs: ms, now, latest: now, at: now }, new AbortController().signal);
};

const metric = (logs: Array<Record<string, unknown>>, name: string) => logs.find((line) => name in line)?.[name];

describe('lookups on the shared quota', () => {
  it('answers within the lookup share and publishes what it took', async () => {
    const { get } = await lookupOn({});
    const answer = await get();
    expect(answer.statusCode).toBe(200);
    // One slot, and one more for each it missed (a busy machine can make the call later than its slot allows).
    expect(metric(answer.logs, 'QuotaTokensTaken')).toBe(1 + Number(metric(answer.logs, 'QuotaSlotsMissed')));
    expect(metric(answer.logs, 'AnswersFromVolcengine')).toBe(1);
    expect(metric(answer.logs, 'QuotaFallbacks')).toBe(0);
  });

  it('answers from a quota table that takes 120 ms a call: the join begun at cold start refuses no lookup', async () => {
    // Prepare: the instance joins the fleet at cold start (a read, then a write); both take 120 ms here.
    dynalite.inject({ kind: 'latency', latencyMs: 120 });
    const { get } = await lookupOn({});
    // Act
    const answer = await get();
    dynalite.clearFaults();
    // Assess: the table answered every call within QUOTA_TIMEOUT_MS: a slot of the shared quota, not a refusal or the fallback.
    expect(answer.statusCode, JSON.stringify(answer.json)).toBe(200);
    expect(metric(answer.logs, 'QuotaFallbacks')).toBe(0);
  });

  it('answers when the quota writes take 150 ms: the slot lies where the answer comes back, not before it', async () => {
    // Prepare
    dynalite.inject({ kind: 'latency', operation: 'UpdateItem', latencyMs: 150 });
    const { get } = await lookupOn({});
    // Act
    const answer = await get();
    dynalite.clearFaults();
    // Assess
    expect(answer.statusCode, JSON.stringify(answer.json)).toBe(200);
    expect(metric(answer.logs, 'QuotaFallbacks')).toBe(0);
  });

  it('publishes only the metrics the catalogue lists for the lookup, in their units, answering or refusing', async () => {
    // Prepare
    const answering = await lookupOn({});
    const answered = await answering.get();
    const refusing = await lookupOn({ LOOKUP_QUOTA_WAIT_MS: '250' });
    await hold(refusing.store, 'lookup', 10_000);
    await hold(refusing.store, 'archiver', 10_000);
    // Act
    const refused = await refusing.get();
    // Assess
    expect([answered.statusCode, refused.statusCode]).toEqual([200, 429]);
    const published = publishedMetrics([...answered.logs, ...refused.logs]);
    expect(published.map((metric) => metric.name)).toEqual(
      expect.arrayContaining(['AnswersFromVolcengine', 'UpstreamThrottles', 'QuotaWait']),
    );
    expect(uncatalogued('lookup', published)).toEqual([]);
  });

  it('answers 429 with a Retry-After from the shared window, without calling Volcengine, past LOOKUP_QUOTA_WAIT_MS', async () => {
    const { get, store } = await lookupOn({ LOOKUP_QUOTA_WAIT_MS: '250' });
    await hold(store, 'lookup', 10_000); // the fleet holds the next 10 s
    await hold(store, 'archiver', 10_000);
    const calls = emulator.callsOf('GetSegmentTask').length;
    const refused = await get();
    expect(refused.statusCode).toBe(429);
    expect(refused.json.ResponseMetadata.Error.Code).toBe('FlowLimitExceeded.QPSOverLimit');
    expect(Number(refused.headers['Retry-After'])).toBeGreaterThanOrEqual(9);
    expect(Number(refused.headers['Retry-After'])).toBeLessThanOrEqual(10);
    expect(emulator.callsOf('GetSegmentTask').length).toBe(calls);
    expect(metric(refused.logs, 'QuotaTokensDenied')).toBe(1);
    expect(metric(refused.logs, 'UpstreamThrottles')).toBe(1);
  });

  it('answers a lookup without TaskId 429 with a Retry-After from the shared window, without calling Volcengine', async () => {
    // Prepare: a quota-table call may take 1.5 s, so that the table, not the fallback, answers on a busy machine.
    const { get, store } = await lookupOn({ LOOKUP_QUOTA_WAIT_MS: '250', QUOTA_TIMEOUT_MS: '1500' });
    await hold(store, 'lookup', 10_000); // the fleet holds the next 10 s
    await hold(store, 'archiver', 10_000);
    const calls = emulator.callsOf('GetSegmentTask').length;
    // Act
    const refused = await get(getTaskQuery('app', 'room', 'task').filter(([name]) => name !== 'TaskId'));
    // Assess
    expect(refused.statusCode).toBe(429);
    expect(refused.json.ResponseMetadata.Error.Code).toBe('FlowLimitExceeded.QPSOverLimit');
    expect(Number(refused.headers['Retry-After'])).toBeGreaterThanOrEqual(9);
    expect(Number(refused.headers['Retry-After'])).toBeLessThanOrEqual(10);
    expect(emulator.callsOf('GetSegmentTask').length).toBe(calls);
    expect(metric(refused.logs, 'QuotaFallbacks')).toBe(0);
    expect(metric(refused.logs, 'QuotaTokensDenied')).toBe(1);
  });

  it('falls back to QUOTA_FALLBACK_QPS when the table does not answer, answering within the deadline, logging it once', async () => {
    const { get } = await lookupOn({ DYNAMODB_ENDPOINT: 'http://127.0.0.1:9', QUOTA_TIMEOUT_MS: '100', QUOTA_FALLBACK_QPS: '5' });
    const started = Date.now();
    const first = await get();
    const second = await get();
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(Date.now() - started).toBeLessThan(2 * 2_000);
    const warnings = [...first.logs, ...second.logs].filter((line) => String(line.message).includes('quota table did not answer'));
    expect(warnings).toHaveLength(1);
    expect(metric(first.logs, 'QuotaFallbacks')).toBe(1);
    expect(metric(second.logs, 'QuotaFallbacks')).toBe(1);
  });

  it("answers a refused lookup 429, never the archive's answer about another run; a named run held final it answers", async () => {
    // Prepare: the user's previous run finished and is archived final; a new run of the same TaskId is running.
    const previous = Date.now() - 3_600_000;
    const finished = { StartTime: previous, EndTime: previous + 600_000, Status: 3, StopReason: 'UserDisconnect' };
    await archive.archive.record(
      { appId: 'app', roomId: 'room', taskId: 'reused', startTime: previous },
      { task: finished, capturedAt: previous + 600_000, source: 'archiver', final: true },
    );
    const current = emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'reused' });
    const { get, store } = await lookupOn({ LOOKUP_QUOTA_WAIT_MS: '100', ...archiveEnv() });
    await hold(store, 'lookup', 10_000); // the fleet holds the next 10 s
    await hold(store, 'archiver', 10_000);
    const calls = emulator.callsOf('GetSegmentTask').length;
    // Act
    const newest = await get(getTaskQuery('app', 'room', 'reused'));
    const namedCurrent = await get([...getTaskQuery('app', 'room', 'reused'), ['StartTime', String(current.startTime)]]);
    const namedPrevious = await get([...getTaskQuery('app', 'room', 'reused'), ['StartTime', String(previous)]]);
    // Assess: the running run is not answered with the finished one; the finished one, named, is.
    expect(newest.statusCode).toBe(429);
    expect(Number(newest.headers['Retry-After'])).toBeGreaterThan(0);
    expect(namedCurrent.statusCode).toBe(429);
    expect(namedPrevious.statusCode).toBe(200);
    expect(namedPrevious.headers['X-Answer-Source']).toBe('archive');
    expect(namedPrevious.json.Result.SegmentTask).toMatchObject({ StartTime: previous, Status: 3 });
    expect(emulator.callsOf('GetSegmentTask').length).toBe(calls);
  });
});
