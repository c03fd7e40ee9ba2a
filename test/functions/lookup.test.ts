import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOUR } from '../support/clock.ts';
import { ALL_SECRETS, STORAGE_SECRETS, STS_CREDENTIALS } from '../support/credentials.ts';
import { getTaskQuery, httpEvent, lambdaContext } from '../support/http-events.ts';
import { captureOutput } from '../support/logs.ts';
import { startLookupStack, type LookupStack } from '../support/lookup-stack.ts';

const APP = '661e3b4c9a5f7d0012a543cf';

let stack: LookupStack;
afterEach(async () => {
  await stack?.stop();
});

describe('lookup: live answers', () => {
  beforeEach(async () => {
    stack = await startLookupStack();
  });

  it.each(['2022-06-01', '2023-11-01'])("answers a running task in Volcengine's envelope (Version %s)", async (version) => {
    // Prepare
    const seeded = stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1', maxIdleTime: 300, duration: 15 });
    // Act
    const response = await stack.get(APP, 'Room1', 'Task1', version);
    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.headers['Content-Type']).toMatch(/^application\/json/);
    expect(response.json.ResponseMetadata).toMatchObject({
      Action: 'GetSegmentTask',
      Version: version,
      Service: 'rtc',
      Region: 'cn-north-1',
    });
    expect(response.json.ResponseMetadata.RequestId).toMatch(/^\d{14}[0-9A-F]{16}$/);
    expect(response.json.ResponseMetadata.Error).toBeUndefined();
    expect(response.json.Result.SegmentTask).toMatchObject({
      Status: 2,
      StartTime: seeded.startTime,
      EndTime: 0,
      MaxIdleTime: 300,
      Duration: 15,
    });
    const calls = stack.emulator.callsOf('GetSegmentTask');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ status: 200, query: { Version: version, AppId: APP, RoomId: 'Room1', TaskId: 'Task1' } });
    expect(response.headers['X-Upstream-Request-Id']).toMatch(/^\d{14}/);
  });

  it('adds the official security headers', async () => {
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    const response = await stack.get(APP, 'Room1', 'Task1');
    expect(response.headers['X-Content-Type-Options'] ?? response.headers['x-content-type-options']).toBe('nosniff');
    expect(JSON.stringify(response.headers)).toMatch(/Strict-Transport-Security/i);
  });

  it('follows an auto-segmentation task addressed by UserId until the user leaves', async () => {
    // Prepare
    stack.emulator.seedTask({ appId: APP, roomId: 'classroom-7', taskId: 'alice@school', auto: true });
    // Act
    const running = await stack.get(APP, 'classroom-7', 'alice@school');
    stack.clock.advance(60_000);
    stack.emulator.userLeaves(APP, 'classroom-7', 'alice@school');
    const ended = await stack.get(APP, 'classroom-7', 'alice@school');
    // Assess
    expect(running.json.Result.SegmentTask.Status).toBe(2);
    expect(ended.json.Result.SegmentTask).toMatchObject({ Status: 3, StopReason: 'UserDisconnect', EndTime: stack.clock.now() });
  });

  it('reports a task that ended by MaxIdleTime', async () => {
    const seeded = stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'idle', maxIdleTime: 180 });
    stack.emulator.streamsGoIdle(APP, 'Room1', 'idle');
    stack.clock.advance(181_000);
    const response = await stack.get(APP, 'Room1', 'idle');
    expect(response.json.Result.SegmentTask).toMatchObject({ Status: 3, StopReason: 'IdleTimeOut', EndTime: seeded.startTime + 180_000 });
  });

  it.each(['error', 'empty'] as const)('answers 404 for a task Volcengine does not know (reported as %s)', async (style) => {
    stack.emulator.notFoundStyle = style;
    const response = await stack.get(APP, 'Room1', 'never-started');
    expect(response.statusCode).toBe(404);
    expect(response.json.ResponseMetadata.Error.Code).toBe('ResourceNotFound.SegmentTask');
    expect(response.json.ResponseMetadata.Error.Message).toContain('TaskId=never-started');
    expect(response.json.ResponseMetadata.RequestId).toMatch(/^\d{14}/);
  });

  it('answers 404 for a task that started more than 72 hours ago', async () => {
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'old', startTime: stack.clock.now() - 72 * HOUR - 1 });
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'young', startTime: stack.clock.now() - 72 * HOUR + 60_000 });
    const old = await stack.get(APP, 'Room1', 'old');
    const young = await stack.get(APP, 'Room1', 'young');
    expect(old.statusCode).toBe(404);
    expect(old.json.ResponseMetadata.Error.Message).toContain('72 hours');
    expect(young.statusCode).toBe(200);
  });

  it('answers 64 concurrent lookups of a finished task with one upstream call', async () => {
    stack.emulator.seedTask({
      appId: APP,
      roomId: 'Room1',
      taskId: 'done',
      status: 3,
      stopReason: 'StopByAPI',
      endTime: stack.clock.now(),
    });
    const responses = await Promise.all(Array.from({ length: 64 }, () => stack.get(APP, 'Room1', 'done')));
    expect(responses.every((r) => r.statusCode === 200 && r.json.Result.SegmentTask.Status === 3)).toBe(true);
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(1);
    const later = await stack.get(APP, 'Room1', 'done');
    expect(later.headers['X-Answer-Source']).toBe('cache');
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(1);
  });

  it('does not cache a running task', async () => {
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'live' });
    await stack.get(APP, 'Room1', 'live');
    await stack.get(APP, 'Room1', 'live');
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(2);
  });
});

describe('lookup: bad requests', () => {
  beforeEach(async () => {
    stack = await startLookupStack();
  });

  const cases: Array<[string, string, number, string, string]> = [
    ['no Action', 'Version=2023-11-01&AppId=a&RoomId=r&TaskId=t', 400, 'MissingParameter', 'Action'],
    ['no Version', 'Action=GetSegmentTask&AppId=a&RoomId=r&TaskId=t', 400, 'MissingParameter', 'Version'],
    ['no AppId', 'Action=GetSegmentTask&Version=2023-11-01&RoomId=r&TaskId=t', 400, 'MissingParameter', 'AppId'],
    ['no RoomId', 'Action=GetSegmentTask&Version=2023-11-01&AppId=a&TaskId=t', 400, 'MissingParameter', 'RoomId'],
    ['empty TaskId', 'Action=GetSegmentTask&Version=2023-11-01&AppId=a&RoomId=r&TaskId=', 400, 'MissingParameter', 'TaskId'],
    [
      'TaskId of 129 characters',
      `Action=GetSegmentTask&Version=2023-11-01&AppId=a&RoomId=r&TaskId=${'x'.repeat(129)}`,
      400,
      'InvalidParameter',
      'TaskId',
    ],
    ['RoomId with a slash', 'Action=GetSegmentTask&Version=2023-11-01&AppId=a&RoomId=a%2Fb&TaskId=t', 400, 'InvalidParameter', 'RoomId'],
    ['RoomId with a space', 'Action=GetSegmentTask&Version=2023-11-01&AppId=a&RoomId=a+b&TaskId=t', 400, 'InvalidParameter', 'RoomId'],
    [
      'TaskId with unicode',
      'Action=GetSegmentTask&Version=2023-11-01&AppId=a&RoomId=r&TaskId=%E4%BB%BB%E5%8A%A1',
      400,
      'InvalidParameter',
      'TaskId',
    ],
    ['TaskId with a NUL byte', 'Action=GetSegmentTask&Version=2023-11-01&AppId=a&RoomId=r&TaskId=t%00', 400, 'InvalidParameter', 'TaskId'],
    ['AppId with a newline', 'Action=GetSegmentTask&Version=2023-11-01&AppId=a%0Ab&RoomId=r&TaskId=t', 400, 'InvalidParameter', 'AppId'],
    [
      'broken percent-encoding',
      'Action=GetSegmentTask&Version=2023-11-01&AppId=a&RoomId=r&TaskId=%E4%BB',
      400,
      'InvalidParameter',
      'TaskId',
    ],
    ['TaskId twice', 'Action=GetSegmentTask&Version=2023-11-01&AppId=a&RoomId=r&TaskId=t&TaskId=u', 400, 'InvalidParameter', 'TaskId'],
    ['path traversal id', 'Action=GetSegmentTask&Version=2023-11-01&AppId=a&RoomId=..%2F..&TaskId=t', 400, 'InvalidParameter', 'RoomId'],
    ['unknown Action', 'Action=StopSegment&Version=2023-11-01&AppId=a&RoomId=r&TaskId=t', 404, 'InvalidActionOrVersion', 'StopSegment'],
    ['old Version', 'Action=GetSegmentTask&Version=2020-12-01&AppId=a&RoomId=r&TaskId=t', 404, 'InvalidActionOrVersion', '2020-12-01'],
  ];

  it.each(cases)('%s → %s %s naming %s', async (_name, query, status, code, named) => {
    // Act
    const response = await stack.invoke(httpEvent(query));
    // Assess
    const json = JSON.parse(response.body);
    expect(response.statusCode).toBe(status);
    expect(json.ResponseMetadata.Error.Code).toBe(code);
    expect(json.ResponseMetadata.Error.Message).toContain(named);
    expect(json.ResponseMetadata.RequestId).toMatch(/^\d{14}[0-9A-F]{16}$/);
    expect(response.body).not.toMatch(/\n\s+at /);
    expect(stack.emulator.received).toHaveLength(0);
  });

  it('accepts every character the id rule allows, at 128 characters', async () => {
    const id = `aZ09_@.-${'x'.repeat(120)}`;
    stack.emulator.seedTask({ appId: APP, roomId: id, taskId: id });
    const response = await stack.get(APP, id, id);
    expect(response.statusCode).toBe(200);
  });

  it('refuses methods other than GET with 405 and an Allow header', async () => {
    const response = await stack.invoke(httpEvent(getTaskQuery(APP, 'r', 't'), { method: 'POST', body: '{}' }));
    expect(response.statusCode).toBe(405);
    expect(response.headers.Allow).toBe('GET');
    expect(JSON.parse(response.body).ResponseMetadata.Error.Code).toBe('InvalidHttpMethod');
  });

  it('refuses a GET that carries a body with 400 naming the body', async () => {
    const response = await stack.invoke(httpEvent(getTaskQuery(APP, 'r', 't'), { body: '{}' }));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).ResponseMetadata.Error).toMatchObject({
      Code: 'InvalidParameter',
      Message: expect.stringContaining('body'),
    });
  });

  it('answers 400 for something that is not an HTTP API event', async () => {
    const response = await stack.invoke({ hello: 'world' });
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).ResponseMetadata.Error.Code).toBe('InvalidRequest');
  });
});

describe('lookup: upstream trouble', () => {
  it('retries Volcengine throttling and then succeeds', async () => {
    // Prepare: Volcengine allows 2 calls per second for this account
    stack = await startLookupStack({
      emulator: { qpsLimits: { GetSegmentTask: 2 } },
      env: {
        VOLC_MAX_ATTEMPTS: '10',
        VOLC_RETRY_BASE_MS: '200',
        VOLC_RETRY_MAX_MS: '1000',
        LOOKUP_DEADLINE_MS: '15000',
      },
    });
    for (let i = 0; i < 4; i++) stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: `t${i}` });
    // Act
    const responses = await Promise.all(Array.from({ length: 4 }, (_, i) => stack.get(APP, 'Room1', `t${i}`)));
    // Assess
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200, 200]);
    const throttled = stack.emulator.callsOf('GetSegmentTask').filter((c) => c.code === 'FlowLimitExceeded.QPSOverLimit');
    expect(throttled.length).toBeGreaterThan(0);
  });

  it('answers 429 with Retry-After when Volcengine keeps throttling past the deadline', async () => {
    stack = await startLookupStack({ emulator: { qpsLimits: { GetSegmentTask: 1 } }, env: { LOOKUP_DEADLINE_MS: '300' } });
    for (let i = 0; i < 4; i++) stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: `t${i}` });
    const responses = await Promise.all(Array.from({ length: 4 }, (_, i) => stack.get(APP, 'Room1', `t${i}`)));
    const limited = responses.filter((r) => r.statusCode === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.json.ResponseMetadata.Error.Code).toBe('FlowLimitExceeded.QPSOverLimit');
    expect(Number(limited[0]!.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
  });

  it('answers 429 when our own lookup budget is used up, without calling Volcengine', async () => {
    stack = await startLookupStack({ env: { LOOKUP_QPS: '1', LOOKUP_BURST: '1', LOOKUP_DEADLINE_MS: '300' } });
    for (let i = 0; i < 3; i++) stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: `t${i}` });
    const responses = await Promise.all(Array.from({ length: 3 }, (_, i) => stack.get(APP, 'Room1', `t${i}`)));
    expect(responses.map((r) => r.statusCode).sort()).toEqual([200, 429, 429]);
    const limited = responses.find((r) => r.statusCode === 429)!;
    expect(limited.json.ResponseMetadata.Error.Message).toContain('budget');
    expect(limited.json.ResponseMetadata.Error.UpstreamCode).toBeUndefined();
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(1);
  });

  it('retries a 5xx burst and succeeds', async () => {
    stack = await startLookupStack();
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    stack.emulator.inject({ kind: 'http5xx', status: 503, times: 2 });
    const response = await stack.get(APP, 'Room1', 'Task1');
    expect(response.statusCode).toBe(200);
    expect(stack.emulator.callsOf('GetSegmentTask').map((c) => c.status)).toEqual([503, 503, 200]);
  });

  it('answers 502 with the upstream code and RequestId when 5xx persists', async () => {
    stack = await startLookupStack();
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    stack.emulator.inject({ kind: 'http5xx', status: 500 });
    const response = await stack.get(APP, 'Room1', 'Task1');
    expect(response.statusCode).toBe(502);
    expect(response.json.ResponseMetadata.Error).toMatchObject({ Code: 'UpstreamError', UpstreamCode: 'InternalError' });
    expect(response.json.ResponseMetadata.Error.UpstreamRequestId).toMatch(/^\d{14}/);
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(stack.settings.volc.retry.maxAttempts);
  });

  it('treats an HTTP 200 that carries ResponseMetadata.Error as a failure', async () => {
    stack = await startLookupStack({ env: { VOLC_MAX_ATTEMPTS: '1' } });
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    stack.emulator.inject({ kind: 'error-200' });
    const response = await stack.get(APP, 'Room1', 'Task1');
    expect(response.statusCode).toBe(502);
    expect(response.json.ResponseMetadata.Error.UpstreamCode).toBe('InternalError');
  });

  it.each(['malformed-json', 'truncated-json'] as const)('answers 502 for %s', async (kind) => {
    stack = await startLookupStack();
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    stack.emulator.inject({ kind, times: 1 });
    const response = await stack.get(APP, 'Room1', 'Task1');
    expect(response.statusCode).toBe(502);
    expect(response.json.ResponseMetadata.Error.Code).toBe('UpstreamError');
    expect(response.json.ResponseMetadata.Error.Message).toContain('could not be read');
  });

  it('answers 502 for an HTML error page from a gateway', async () => {
    stack = await startLookupStack({ env: { VOLC_MAX_ATTEMPTS: '2' } });
    stack.emulator.inject({ kind: 'html-502', status: 502 });
    const response = await stack.get(APP, 'Room1', 'Task1');
    expect(response.statusCode).toBe(502);
    expect(response.json.ResponseMetadata.Error.Message).toContain('HTTP 502');
  });

  it('passes on what it can read when fields are missing, and keeps unknown fields', async () => {
    stack = await startLookupStack();
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    stack.emulator.inject({ kind: 'missing-fields', times: 1 });
    const sparse = await stack.get(APP, 'Room1', 'Task1');
    stack.emulator.inject({ kind: 'extra-fields', times: 1 });
    const rich = await stack.get(APP, 'Room1', 'Task1');
    expect(sparse.statusCode).toBe(200);
    expect(sparse.json.Result.SegmentTask).toEqual({ Status: 2 });
    expect(rich.json.Result.SegmentTask.FutureField).toBe('added-by-a-later-api-version');
  });

  it('retries a connection reset, and answers 502 when resets persist', async () => {
    stack = await startLookupStack();
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    stack.emulator.inject({ kind: 'reset', times: 1 });
    const recovered = await stack.get(APP, 'Room1', 'Task1');
    stack.emulator.inject({ kind: 'reset' });
    const failed = await stack.get(APP, 'Room1', 'Task1');
    expect(recovered.statusCode).toBe(200);
    expect(failed.statusCode).toBe(502);
    expect(failed.json.ResponseMetadata.Error.Message).toContain('could not be reached');
  });

  it('answers 504 when Volcengine is slower than the deadline, close to the deadline', async () => {
    stack = await startLookupStack({ env: { LOOKUP_DEADLINE_MS: '300' } });
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    stack.emulator.inject({ kind: 'latency', latencyMs: 3000 });
    const startedAt = performance.now();
    const response = await stack.get(APP, 'Room1', 'Task1');
    const elapsed = performance.now() - startedAt;
    expect(response.statusCode).toBe(504);
    expect(response.json.ResponseMetadata.Error.Code).toBe('UpstreamTimeout');
    expect(elapsed).toBeLessThan(2500);
  });

  it("cuts the deadline to the invocation's time left less 2 s: the Lambda's timeout is read from its context", async () => {
    // Prepare: a 2 s deadline, Volcengine answering in 1 s, an invocation with 2.3 s left
    stack = await startLookupStack({ env: { LOOKUP_DEADLINE_MS: '2000' } });
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    stack.emulator.inject({ kind: 'latency', latencyMs: 1000 });
    const query = getTaskQuery(APP, 'Room1', 'Task1');
    // Act
    const startedAt = performance.now();
    const cut = await stack.invoke(httpEvent(query), lambdaContext(2_300));
    const elapsed = performance.now() - startedAt;
    const whole = await stack.invoke(httpEvent(query), lambdaContext(30_000));
    // Assess: 300 ms were left for the lookup; with 30 s, its own 2 s deadline holds and Volcengine answers
    expect(cut.statusCode).toBe(504);
    expect(JSON.parse(cut.body).ResponseMetadata.Error.Code).toBe('UpstreamTimeout');
    expect(elapsed).toBeLessThan(1_500);
    expect(whole.statusCode).toBe(200);
  });

  it("answers a lookup that joins another's call by its own deadline, without cutting the shared call", async () => {
    // Prepare: Volcengine answering in 1 s; a lookup with 30 s left, then one of the same task with 2.3 s left (300 ms deadline)
    stack = await startLookupStack({ env: { LOOKUP_DEADLINE_MS: '2000' } });
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    stack.emulator.inject({ kind: 'latency', latencyMs: 1000 });
    const query = getTaskQuery(APP, 'Room1', 'Task1');
    const finished: string[] = [];
    const invoke = (name: string, leftMs: number) =>
      stack.invoke(httpEvent(query), lambdaContext(leftMs)).then((result) => {
        finished.push(name);
        return result;
      });
    // Act: the second joins the first's call (in flight once the first's microtasks have run)
    const first = invoke('first', 30_000);
    await new Promise(setImmediate);
    const joined = invoke('joined', 2_300);
    const [whole, cut] = await Promise.all([first, joined]);
    // Assess: the joiner gives up at its own deadline, first; the shared call goes on for the first lookup
    expect(cut.statusCode).toBe(504);
    expect(JSON.parse(cut.body).ResponseMetadata.Error.Code).toBe('UpstreamTimeout');
    expect(whole.statusCode).toBe(200);
    expect(finished).toEqual(['joined', 'first']);
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(1);
  });

  it("runs a shared call under the first lookup's deadline: one that joins with more time left shares its timeout", async () => {
    stack = await startLookupStack({ env: { LOOKUP_DEADLINE_MS: '2000' } });
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    stack.emulator.inject({ kind: 'latency', latencyMs: 1000 });
    const query = getTaskQuery(APP, 'Room1', 'Task1');
    const first = stack.invoke(httpEvent(query), lambdaContext(2_300));
    await new Promise(setImmediate);
    const joined = stack.invoke(httpEvent(query), lambdaContext(30_000));
    const answers = await Promise.all([first, joined]);
    expect(answers.map((a) => a.statusCode)).toEqual([504, 504]);
    expect(stack.emulator.callsOf('GetSegmentTask').length).toBeLessThanOrEqual(1);
  });

  it('answers 502 naming SignatureDoesNotMatch when our secret is wrong', async () => {
    stack = await startLookupStack({ env: { VOLC_SECRET_ACCESS_KEY: 'not-the-right-secret' } });
    const response = await stack.get(APP, 'Room1', 'Task1');
    expect(response.statusCode).toBe(502);
    expect(response.json.ResponseMetadata.Error.UpstreamCode).toBe('SignatureDoesNotMatch');
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(1);
  });

  it('answers 502 naming InvalidTimestamp when our clock is 20 minutes off', async () => {
    stack = await startLookupStack({ skewMs: 20 * 60_000 });
    const response = await stack.get(APP, 'Room1', 'Task1');
    expect(response.statusCode).toBe(502);
    expect(response.json.ResponseMetadata.Error.UpstreamCode).toBe('InvalidTimestamp');
  });

  it('signs with STS credentials (X-Security-Token)', async () => {
    stack = await startLookupStack({
      env: {
        VOLC_ACCESS_KEY_ID: STS_CREDENTIALS.accessKeyId,
        VOLC_SECRET_ACCESS_KEY: STS_CREDENTIALS.secretAccessKey,
        VOLC_SESSION_TOKEN: STS_CREDENTIALS.sessionToken,
      },
    });
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    const response = await stack.get(APP, 'Room1', 'Task1');
    expect(response.statusCode).toBe(200);
  });
});

describe('lookup: secrets', () => {
  it('never shows or logs Volcengine keys or StorageConfig keys', async () => {
    // Prepare: Volcengine echoes the third-party storage keys back (the form is unconfirmed upstream)
    stack = await startLookupStack({ emulator: { echoStorageSecrets: true }, logLevel: 'DEBUG' });
    stack.emulator.seedTask({
      appId: APP,
      roomId: 'Room1',
      taskId: 'Task1',
      storageConfig: { Type: 2, CustomConfig: { Vendor: 0, Region: 0, Bucket: 'my-s3-bucket', ...STORAGE_SECRETS } },
    });
    const output = captureOutput();
    let bodies: string[];
    try {
      // Act: a success, a client error, an upstream error and a not-found
      const ok = await stack.get(APP, 'Room1', 'Task1');
      const bad = await stack.invoke(httpEvent('Action=GetSegmentTask&Version=2023-11-01&AppId=a&RoomId=r&TaskId=%00'));
      const missing = await stack.get(APP, 'Room1', 'nope');
      stack.emulator.inject({ kind: 'http5xx' });
      const failed = await stack.get(APP, 'Room1', 'other');
      bodies = [ok, bad, missing, failed].map((r) => `${JSON.stringify(r.headers)}${r.body}`);
      expect(ok.json.Result.SegmentTask.StorageConfig).toEqual({ Type: 2, CustomConfig: { Vendor: 0, Region: 0, Bucket: 'my-s3-bucket' } });
    } finally {
      output.restore();
    }
    // Assess
    const logs = output.text();
    expect(output.jsonLines().some((line) => line.message === 'request finished' && line.requestId)).toBe(true);
    for (const secret of ALL_SECRETS) {
      expect(logs).not.toContain(secret);
      for (const body of bodies) expect(body).not.toContain(secret);
    }
  });
});
