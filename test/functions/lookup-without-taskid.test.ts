/**
 * GetSegmentTask without TaskId: optional in Volcengine's own docs, what Volcengine answers to it
 * unconfirmed. The lookup passes it through (handler → client → emulator over loopback, with an
 * archive on a real S3-protocol server and dynalite) and answers as Volcengine answers, in each form
 * the emulator can take; nothing of it is cached, registered or archived, and the archive is not read.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOUR } from '../support/clock.ts';
import { ALL_SECRETS, STORAGE_SECRETS } from '../support/credentials.ts';
import { getTaskQuery, httpEvent } from '../support/http-events.ts';
import { captureOutput } from '../support/logs.ts';
import { startLookupStack, type LookupStack } from '../support/lookup-stack.ts';

const APP = '661e3b4c9a5f7d0012a543cf';
const roomQuery = (extra: Record<string, string> = {}, version = '2023-11-01'): Array<[string, string]> => [
  ['Action', 'GetSegmentTask'],
  ['Version', version],
  ['AppId', APP],
  ['RoomId', 'Room1'],
  ...Object.entries(extra),
];

let stack: LookupStack;
const call = async (query: Array<[string, string]> | string) => {
  const result = await stack.invoke(httpEvent(query));
  return { ...result, json: JSON.parse(result.body) };
};

/** Requests made of the archive's bucket and registry table since the stack started (its own setup not counted). */
let setupRequests = 0;
const requestsToArchive = () => {
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((total, n) => total + n, 0);
  return sum(stack.archive!.s3.counts) + sum(stack.archive!.dynamodb.counts);
};
const archiveRequests = () => requestsToArchive() - setupRequests;

/** What Volcengine received: one GetSegmentTask per request, with no TaskId. */
const upstreamQueries = () => stack.emulator.callsOf('GetSegmentTask').map((c) => c.query);

describe('GetSegmentTask without TaskId, with an archive', () => {
  beforeEach(async () => {
    stack = await startLookupStack({ archive: true });
    setupRequests = requestsToArchive();
  });
  afterEach(() => stack.stop());

  it.each(['invalid-parameter', 'missing-parameter'] as const)(
    "answers Volcengine's refusal (%s) in its envelope, with Volcengine's code",
    async (style) => {
      // Prepare
      stack.emulator.withoutTaskId = style;
      const code = style === 'invalid-parameter' ? 'InvalidParameter' : 'MissingParameter';
      // Act
      const response = await call(roomQuery());
      // Assess
      expect(response.statusCode).toBe(400);
      expect(response.json.ResponseMetadata.Error).toMatchObject({ Code: code, UpstreamCode: code });
      expect(response.json.ResponseMetadata.Error.UpstreamRequestId).toMatch(/^\d{14}/);
      expect(response.body).not.toMatch(/\n\s+at /);
      expect(upstreamQueries()).toEqual([{ Action: 'GetSegmentTask', Version: '2023-11-01', AppId: APP, RoomId: 'Room1' }]);
    },
  );

  it.each(['2022-06-01', '2023-11-01'])("answers the task Volcengine answers (the room's newest), Version %s", async (version) => {
    // Prepare: an older finished task and a newer running one in the room, and one in another room.
    stack.emulator.withoutTaskId = 'newest-task';
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'older', startTime: stack.clock.now() - HOUR, status: 3 });
    const newest = stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'newer', duration: 15 });
    stack.emulator.seedTask({ appId: APP, roomId: 'Room2', taskId: 'elsewhere', startTime: stack.clock.now() + 1 });
    // Act
    const response = await call(roomQuery({}, version));
    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.json.ResponseMetadata).toMatchObject({ Action: 'GetSegmentTask', Version: version, Service: 'rtc' });
    expect(response.json.Result.SegmentTask).toMatchObject({ StartTime: newest.startTime, Status: 2, Duration: 15 });
    expect(response.headers['X-Answer-Source']).toBe('volcengine');
    expect(response.headers['X-Upstream-Request-Id']).toMatch(/^\d{14}/);
    expect(upstreamQueries()).toEqual([{ Action: 'GetSegmentTask', Version: version, AppId: APP, RoomId: 'Room1' }]);
  });

  it('registers and archives nothing of a running task it answered, and reads no archive', async () => {
    // Prepare: answered with a TaskId, this running task would be registered and archived.
    stack.emulator.withoutTaskId = 'newest-task';
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'running' });
    // Act
    const response = await call(roomQuery());
    // Assess
    expect(response.json.Result.SegmentTask.Status).toBe(2);
    expect(archiveRequests()).toBe(0);
    expect([...(await stack.archive!.dump()).keys()]).toEqual([]);
  });

  it('asks Volcengine again each time, a finished task too (nothing is cached), and archives nothing', async () => {
    // Prepare: answered with a TaskId, this finished task would be remembered and archived final.
    stack.emulator.withoutTaskId = 'newest-task';
    stack.emulator.seedTask({
      appId: APP,
      roomId: 'Room1',
      taskId: 'done',
      status: 3,
      stopReason: 'StopByAPI',
      endTime: stack.clock.now(),
    });
    // Act
    const first = await call(roomQuery());
    const second = await call(roomQuery());
    // Assess
    expect([first.json.Result.SegmentTask.Status, second.json.Result.SegmentTask.Status]).toEqual([3, 3]);
    expect([first.headers['X-Answer-Source'], second.headers['X-Answer-Source']]).toEqual(['volcengine', 'volcengine']);
    expect(upstreamQueries()).toHaveLength(2);
    expect(archiveRequests()).toBe(0);
    expect([...(await stack.archive!.dump()).keys()]).toEqual([]);
  });

  it.each([
    ['empty', {}],
    ['null', null],
  ] as const)('answers a Result without a task (%s) as Volcengine gave it, not as a 404', async (style, result) => {
    // Prepare: a task in the room, which Volcengine does not show in this form.
    stack.emulator.withoutTaskId = style;
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    // Act
    const response = await call(roomQuery());
    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.json.Result).toEqual(result);
    expect(upstreamQueries()).toHaveLength(1);
    expect(archiveRequests()).toBe(0);
    expect([...(await stack.archive!.dump()).keys()]).toEqual([]);
  });

  it('answers a Result of a shape we do not know as Volcengine gave it', async () => {
    // Prepare
    stack.emulator.withoutTaskId = 'task-list';
    const a = stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'a', startTime: stack.clock.now() - HOUR });
    const b = stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'b' });
    // Act
    const response = await call(roomQuery());
    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.json.Result.SegmentTasks.map((t: any) => [t.TaskId, t.StartTime])).toEqual([
      ['b', b.startTime],
      ['a', a.startTime],
    ]);
    expect(archiveRequests()).toBe(0);
  });

  it("answers Volcengine's ErrorActiveTaskNotFound as Volcengine's 400, not as our 404 about a task", async () => {
    // Prepare: no task in the room, reported as an error.
    stack.emulator.withoutTaskId = 'newest-task';
    stack.emulator.notFoundStyle = 'error';
    // Act
    const response = await call(roomQuery());
    // Assess
    expect(response.statusCode).toBe(400);
    expect(response.json.ResponseMetadata.Error).toMatchObject({
      Code: 'InvalidParameter.ErrorActiveTaskNotFound',
      UpstreamCode: 'InvalidParameter.ErrorActiveTaskNotFound',
    });
    expect(archiveRequests()).toBe(0);
  });

  it('answers 502 with the upstream code when Volcengine keeps failing, without reading the archive', async () => {
    // Prepare
    stack.emulator.withoutTaskId = 'newest-task';
    stack.emulator.inject({ kind: 'http5xx', status: 500 });
    // Act
    const response = await call(roomQuery());
    // Assess
    expect(response.statusCode).toBe(502);
    expect(response.json.ResponseMetadata.Error).toMatchObject({ Code: 'UpstreamError', UpstreamCode: 'InternalError' });
    expect(upstreamQueries()).toHaveLength(stack.settings.volc.retry.maxAttempts);
    expect(archiveRequests()).toBe(0);
  });

  it('refuses a StartTime without a TaskId (no run can be named), without calling Volcengine', async () => {
    // Act
    const response = await call(roomQuery({ StartTime: String(stack.clock.now()) }));
    // Assess
    expect(response.statusCode).toBe(400);
    expect(response.json.ResponseMetadata.Error).toMatchObject({ Code: 'InvalidParameter', Message: expect.stringContaining('StartTime') });
    expect(stack.emulator.received).toHaveLength(0);
  });

  it.each(['WatchSegmentTask', 'ListSegmentTaskSnapshots'])('%s still requires TaskId', async (action) => {
    // Act
    const response = await call([
      ['Action', action],
      ['Version', '2023-11-01'],
      ['AppId', APP],
      ['RoomId', 'Room1'],
    ]);
    // Assess
    expect(response.statusCode).toBe(400);
    expect(response.json.ResponseMetadata.Error).toMatchObject({ Code: 'MissingParameter', Message: expect.stringContaining('TaskId') });
    expect(stack.emulator.received).toHaveLength(0);
    expect([...(await stack.archive!.dump()).keys()]).toEqual([]);
  });
});

describe('GetSegmentTask without TaskId: drift, secrets, quota', () => {
  afterEach(() => stack.stop());

  it('passes on a task that does not have the documented shape, logging the drift, never a 500', async () => {
    // Prepare: Volcengine reports a StartTime our schema refuses (negative).
    stack = await startLookupStack({ emulator: { withoutTaskId: 'newest-task' }, logLevel: 'INFO' });
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'drift', reportedStartTime: -5 });
    const output = captureOutput();
    let response: Awaited<ReturnType<typeof call>>;
    try {
      // Act
      response = await call(roomQuery());
    } finally {
      output.restore();
    }
    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.json.Result.SegmentTask).toMatchObject({ StartTime: -5, Status: 2 });
    const drift = output.jsonLines().find((line) => line.schemaDrift === true);
    expect(drift).toMatchObject({ level: 'WARN', fields: 'SegmentTask.StartTime' });
  });

  it('removes storage keys Volcengine echoes, from every shape of answer, and logs none', async () => {
    // Prepare
    stack = await startLookupStack({ emulator: { echoStorageSecrets: true }, logLevel: 'DEBUG' });
    const storageConfig = { Type: 2, CustomConfig: { Vendor: 0, Region: 0, Bucket: 'my-s3-bucket', ...STORAGE_SECRETS } };
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1', storageConfig });
    const output = captureOutput();
    const bodies: string[] = [];
    try {
      // Act: the task in the documented form, in a list, and drifted
      for (const style of ['newest-task', 'task-list'] as const) {
        stack.emulator.withoutTaskId = style;
        bodies.push((await call(roomQuery())).body);
      }
      const startTime = stack.clock.now() + 1;
      stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task2', storageConfig, startTime, reportedStartTime: -5 });
      stack.emulator.withoutTaskId = 'newest-task';
      bodies.push((await call(roomQuery())).body);
    } finally {
      output.restore();
    }
    // Assess
    expect(JSON.parse(bodies[0]!).Result.SegmentTask.StorageConfig).toEqual({
      Type: 2,
      CustomConfig: { Vendor: 0, Region: 0, Bucket: 'my-s3-bucket' },
    });
    expect(JSON.parse(bodies[1]!).Result.SegmentTasks[0].StorageConfig.CustomConfig.Bucket).toBe('my-s3-bucket');
    expect(JSON.parse(bodies[2]!).Result.SegmentTask.StartTime).toBe(-5);
    for (const secret of ALL_SECRETS) {
      expect(output.text()).not.toContain(secret);
      for (const body of bodies) expect(body).not.toContain(secret);
    }
  });

  it('answers 429 with Retry-After when refused a quota slot, taken by a lookup with a TaskId, without calling Volcengine', async () => {
    // Prepare: one slot per second, spent by a lookup with a TaskId.
    stack = await startLookupStack({
      emulator: { withoutTaskId: 'newest-task' },
      env: { LOOKUP_QPS: '1', LOOKUP_BURST: '1', LOOKUP_DEADLINE_MS: '300' },
    });
    stack.emulator.seedTask({ appId: APP, roomId: 'Room1', taskId: 'Task1' });
    const first = await call(getTaskQuery(APP, 'Room1', 'Task1'));
    // Act
    const refused = await call(roomQuery());
    // Assess
    expect(first.statusCode).toBe(200);
    expect(refused.statusCode).toBe(429);
    expect(refused.json.ResponseMetadata.Error).toMatchObject({
      Code: 'FlowLimitExceeded.QPSOverLimit',
      Message: expect.stringContaining('budget'),
    });
    expect(Number(refused.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(1);
  });

  it('answers 429 with Retry-After when Volcengine keeps throttling it past the deadline', async () => {
    // Prepare
    stack = await startLookupStack({ emulator: { withoutTaskId: 'newest-task' }, env: { LOOKUP_DEADLINE_MS: '300' } });
    stack.emulator.inject({ kind: 'throttle' });
    // Act
    const response = await call(roomQuery());
    // Assess
    expect(response.statusCode).toBe(429);
    expect(response.json.ResponseMetadata.Error.UpstreamCode).toBe('FlowLimitExceeded.QPSOverLimit');
    expect(Number(response.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
  });
});
