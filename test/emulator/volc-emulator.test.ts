import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { signVolcRequest } from '../../lib/volc/signer.ts';
import { HOUR, ManualClock } from '../support/clock.ts';
import { TEST_CREDENTIALS } from '../support/credentials.ts';
import { getTaskQuery } from '../support/http-events.ts';
import { VolcEmulator } from './volc-emulator.ts';

const require = createRequire(import.meta.url);
const { Service } = require('@volcengine/openapi') as typeof import('@volcengine/openapi');

let clock: ManualClock;
let emulator: VolcEmulator;
let url: string;

beforeEach(async () => {
  clock = new ManualClock(Date.now());
  emulator = new VolcEmulator({ credentials: [TEST_CREDENTIALS], now: clock.now });
  url = await emulator.start();
});
afterEach(() => emulator.stop());

/** One signed call made with our signer, with an optional tweak after signing. */
async function call(
  method: 'GET' | 'POST',
  query: Array<[string, string]>,
  body = '',
  tamper?: (h: Record<string, string>) => void,
  date = clock.now(),
) {
  const headers: Record<string, string> = method === 'POST' ? { 'Content-Type': 'application/json' } : {};
  const signed = signVolcRequest({
    ...TEST_CREDENTIALS,
    region: 'cn-north-1',
    service: 'rtc',
    method,
    path: '/',
    query,
    headers,
    body,
    date,
  });
  const allHeaders = { ...headers, ...signed.headers };
  tamper?.(allHeaders);
  const qs = query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const response = await request(`${url}/?${qs}`, { method, headers: allHeaders, body: body || undefined });
  return { status: response.statusCode, json: (await response.body.json()) as any };
}

const get = (taskId: string, version = '2023-11-01') => call('GET', getTaskQuery('app', 'room', taskId, version));
const post = (action: string, body: unknown) =>
  call(
    'POST',
    [
      ['Action', action],
      ['Version', '2023-11-01'],
    ],
    JSON.stringify(body),
  );
const storage = { Type: 0, TosConfig: { AccountId: '2100000000', Bucket: 'b' } };

describe('emulator: authentication', () => {
  it("accepts the official SDK's own Service calls (independent client)", async () => {
    // Prepare
    emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'sdk-task' });
    const host = new URL(url).host;
    const service = new Service({
      host,
      protocol: 'http:',
      region: 'cn-north-1',
      serviceName: 'rtc',
      accessKeyId: TEST_CREDENTIALS.accessKeyId,
      secretKey: TEST_CREDENTIALS.secretAccessKey,
    });
    const getTask = service.createAPI('GetSegmentTask', { Version: '2023-11-01', method: 'GET' });
    const stop = service.createJSONAPI('StopSegment', { Version: '2023-11-01' });
    clock.set(Date.now());
    // Act
    const got = (await getTask({ AppId: 'app', RoomId: 'room', TaskId: 'sdk-task' })) as any;
    const stopped = (await stop({ AppId: 'app', RoomId: 'room', TaskId: 'sdk-task' })) as any;
    // Assess
    expect(got.ResponseMetadata.Error).toBeUndefined();
    expect(got.Result.SegmentTask.Status).toBe(2);
    expect(stopped.Result).toBe('ok');
  });

  it('rejects a tampered query, a tampered body and a wrong key with SignatureDoesNotMatch', async () => {
    emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 't' });
    const query = getTaskQuery('app', 'room', 't');
    const signedOnly = await call('GET', query);
    const tamperedAuth = await call('GET', query, '', (h) => {
      // Flip the first hex digit to another one (replacing it with a fixed digit would change nothing one time in 16).
      h.Authorization = h.Authorization!.replace(/Signature=(.)/, (_, digit: string) => `Signature=${digit === '0' ? '1' : '0'}`);
    });
    const tamperedBody = await call(
      'POST',
      [
        ['Action', 'StopSegment'],
        ['Version', '2023-11-01'],
      ],
      '{"AppId":"app","RoomId":"room","TaskId":"t"}',
      (h) => {
        h['X-Content-Sha256'] = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
      },
    );
    expect(signedOnly.status).toBe(200);
    for (const answer of [tamperedAuth, tamperedBody]) {
      expect(answer.status).toBe(401);
      expect(answer.json.ResponseMetadata.Error).toMatchObject({ Code: 'SignatureDoesNotMatch', CodeN: 100010 });
    }
  });

  it('answers MissingAuthenticationToken, InvalidAccessKey and InvalidTimestamp', async () => {
    const query = getTaskQuery('app', 'room', 't');
    const unsigned = await call('GET', query, '', (h) => {
      delete h.Authorization;
    });
    const unknownKey = await call('GET', query, '', (h) => {
      h.Authorization = h.Authorization!.replace(TEST_CREDENTIALS.accessKeyId, 'AKLTUNKNOWN');
    });
    const skewed = await call('GET', query, '', undefined, clock.now() - 16 * 60_000);
    expect([unsigned.status, unsigned.json.ResponseMetadata.Error.Code]).toEqual([401, 'MissingAuthenticationToken']);
    expect([unknownKey.status, unknownKey.json.ResponseMetadata.Error.Code]).toEqual([401, 'InvalidAccessKey']);
    expect([skewed.status, skewed.json.ResponseMetadata.Error.Code]).toEqual([400, 'InvalidTimestamp']);
  });
});

describe('emulator: limits and lifecycle', () => {
  it('enforces the QPS limit strictly within one second', async () => {
    emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 't' });
    const answers = await Promise.all(Array.from({ length: 70 }, () => get('t')));
    const ok = answers.filter((a) => a.status === 200).length;
    const limited = answers.filter((a) => a.status === 429);
    expect(ok).toBe(60);
    expect(limited).toHaveLength(10);
    expect(limited[0]!.json.ResponseMetadata.Error.Code).toBe('FlowLimitExceeded.QPSOverLimit');
  });

  it('forgets tasks 72 hours after StartTime, even unfinished ones', async () => {
    emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 't' });
    clock.advance(72 * HOUR);
    const atLimit = await get('t');
    clock.advance(1);
    const after = await get('t');
    expect(atLimit.status).toBe(200);
    expect(after.json.ResponseMetadata.Error.Code).toBe('InvalidParameter.ErrorActiveTaskNotFound');
  });

  it('runs Start → Update → Stop with defaults, idempotent Start and StopByAPI', async () => {
    const start = await post('StartSegment', { AppId: 'app', RoomId: 'room', TaskId: 'life', StorageConfig: storage });
    const again = await post('StartSegment', { AppId: 'app', RoomId: 'room', TaskId: 'life', StorageConfig: storage });
    const update = await post('UpdateSegment', { AppId: 'app', RoomId: 'room', TaskId: 'life', Duration: 30, Handle: false });
    const running = await get('life');
    clock.advance(5_000);
    const stop = await post('StopSegment', { AppId: 'app', RoomId: 'room', TaskId: 'life' });
    const stoppedTwice = await post('StopSegment', { AppId: 'app', RoomId: 'room', TaskId: 'life' });
    const stopped = await get('life');
    expect(start.json.Result).toBe('ok');
    expect(again.json.Result).toContain('The task has been started');
    expect(update.json.Result).toBe('ok');
    expect(running.json.Result.SegmentTask).toMatchObject({ Status: 2, MaxIdleTime: 180, Duration: 30, Handle: false, EndTime: 0 });
    expect(stop.json.Result).toBe('ok');
    expect(stoppedTwice.json.ResponseMetadata.Error.Code).toBe('InvalidParameter.ErrorActiveTaskNotFound');
    expect(stopped.json.Result.SegmentTask).toMatchObject({ Status: 3, StopReason: 'StopByAPI', EndTime: clock.now() });
  });

  it('validates StartSegment ranges and the 2020-12-01 absence of GetSegmentTask', async () => {
    const badIdle = await post('StartSegment', { AppId: 'app', RoomId: 'room', TaskId: 'x', MaxIdleTime: 0, StorageConfig: storage });
    const badDuration = await post('StartSegment', { AppId: 'app', RoomId: 'room', TaskId: 'x', Duration: 601, StorageConfig: storage });
    const noStorage = await post('StartSegment', { AppId: 'app', RoomId: 'room', TaskId: 'x' });
    const oldVersion = await get('x', '2020-12-01');
    expect([badIdle.status, badDuration.status, noStorage.status]).toEqual([400, 400, 400]);
    expect([oldVersion.status, oldVersion.json.ResponseMetadata.Error.Code]).toEqual([404, 'InvalidActionOrVersion']);
  });
});

describe('emulator: GetSegmentTask without TaskId (unconfirmed upstream), in the form a test chooses', () => {
  const inRoom: Array<[string, string]> = [
    ['Action', 'GetSegmentTask'],
    ['Version', '2023-11-01'],
    ['AppId', 'app'],
    ['RoomId', 'room'],
  ];

  it('answers each form: an error, the newest task, a list, or no task', async () => {
    // Prepare
    emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'older', startTime: clock.now() - HOUR });
    emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'newer' });
    emulator.seedTask({ appId: 'app', roomId: 'other', taskId: 'elsewhere', startTime: clock.now() + 1 });
    const answers: Record<string, { status: number; json: any }> = {};
    // Act
    for (const style of ['invalid-parameter', 'missing-parameter', 'newest-task', 'task-list', 'empty', 'null'] as const) {
      emulator.withoutTaskId = style;
      answers[style] = await call('GET', inRoom);
    }
    // Assess
    expect([answers['invalid-parameter']!.status, answers['invalid-parameter']!.json.ResponseMetadata.Error.Code]).toEqual([
      400,
      'InvalidParameter',
    ]);
    expect(answers['missing-parameter']!.json.ResponseMetadata.Error).toMatchObject({ CodeN: 100002, Code: 'MissingParameter' });
    expect(answers['newest-task']!.json.Result.SegmentTask.StartTime).toBe(clock.now());
    expect(answers['task-list']!.json.Result.SegmentTasks.map((t: any) => t.TaskId)).toEqual(['newer', 'older']);
    expect(answers.empty!.json.Result).toEqual({});
    expect(answers.null!.json).toHaveProperty('Result', null);
  });

  it('still requires TaskId for StopSegment', async () => {
    emulator.withoutTaskId = 'newest-task';
    const stop = await post('StopSegment', { AppId: 'app', RoomId: 'room' });
    expect([stop.status, stop.json.ResponseMetadata.Error.Code]).toEqual([400, 'InvalidParameter']);
  });
});
