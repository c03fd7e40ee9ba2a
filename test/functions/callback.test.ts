/**
 * The callback function over dynalite and the EventBridge peer (with the S3-protocol server beside
 * them, to show it is never called), with events signed by the emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allEntries } from '../../lib/archive/registry.ts';
import { EVENT_SOURCE } from '../../lib/callback/publisher.ts';
import { callbackSignature } from '../../lib/callback/signature.ts';
import { callbackSettings, type CallbackSettings } from '../../lib/config.ts';
import { VolcEmulator, type EmulatedTask } from '../emulator/volc-emulator.ts';
import { startArchiveStack, TEST_BUS, type ArchiveStack } from '../support/archive-stack.ts';
import { ManualClock } from '../support/clock.ts';
import { TEST_CREDENTIALS } from '../support/credentials.ts';
import { callbackInvoker, type CallbackInvoker, type CallbackStackOptions } from '../support/callback-stack.ts';
import { publishedMetrics, uncatalogued } from '../support/metrics.ts';
import { SsmTestServer } from '../ssm/ssm-server.ts';
import { abandoned as waitForAbandoned } from '../support/abandoned.ts';

const SECRET = 'callback-secret-for-tests-3c9e';
const APP = 'cb-app';
let stack: ArchiveStack;
let settings: CallbackSettings;
let emulator: VolcEmulator;
let clock: ManualClock;
let invoke: CallbackInvoker;

/** A callback instance (its own memo of recent registrations), wired from the environment as the function is. */
function instance(options: Partial<CallbackStackOptions> = {}): CallbackInvoker {
  const invokeCallback = callbackInvoker({
    settings,
    secrets: { [APP]: SECRET, 'other-app': 'another-secret' },
    now: clock.now,
    maxBodyBytes: 16_384,
    ...options,
  });
  return async (body, overrides) => {
    const reply = await invokeCallback(body, overrides);
    lastLogs = reply.logs;
    return reply;
  };
}

beforeAll(async () => {
  stack = await startArchiveStack('cb/');
  // The function's registry and event bus, built by buildCallback from its settings as deployed.
  settings = callbackSettings({ ...stack.env, CALLBACK_SECRETS: JSON.stringify({ [APP]: SECRET }) });
  clock = new ManualClock(Date.now());
  emulator = new VolcEmulator({ credentials: [TEST_CREDENTIALS], now: clock.now });
  invoke = instance();
});
afterAll(() => stack.stop());

let lastLogs = '';
let taskCount = 0;
const newTask = (auto = false): EmulatedTask =>
  emulator.seedTask({ appId: APP, roomId: 'cb-room', taskId: `cb-task-${taskCount++}`, auto });

async function registryFor(taskId: string) {
  const entries = [];
  for await (const entry of allEntries(stack.registry)) if (entry.address.taskId === taskId) entries.push(entry);
  return entries;
}

/** Requests served, from a peer's counts by operation (a refused request is counted under its operation and again as `…Refused`). */
const sum = (counts: Record<string, number>) =>
  Object.entries(counts)
    .filter(([operation]) => !operation.endsWith('Refused'))
    .reduce((total, [, count]) => total + count, 0);
/** Requests the peers served so far: every S3 and DynamoDB operation (a failed conditional write too), every EventBridge request. */
const requests = () => ({ s3: sum(stack.s3.counts), dynamodb: sum(stack.dynamodb.counts), eventbridge: stack.events.counts.requests });
const since = (before: ReturnType<typeof requests>) => {
  const now = requests();
  return { s3: now.s3 - before.s3, dynamodb: now.dynamodb - before.dynamodb, eventbridge: now.eventbridge - before.eventbridge };
};
const publishedOf = (eventId: string) => stack.events.published.filter((entry) => entry.Detail.EventId === eventId);

describe('callback: a valid SegmentRealTimeData event', () => {
  it('registers the task (a sighting that finds no entry, then the upsert) and publishes the event once, with no S3 request', async () => {
    const task = newTask();
    const event = emulator.segmentEvent(task, SECRET);
    const before = requests();
    const response = await invoke(JSON.stringify(event));
    expect(response.statusCode).toBe(200);
    expect(response.json.Result).toEqual({ EventId: event.EventId, Outcome: 'registered' });
    expect(since(before)).toEqual({ s3: 0, dynamodb: 2, eventbridge: 1 });
    const entries = await registryFor(task.taskId);
    expect(entries).toMatchObject([
      { kind: 'pending', state: 'unknown', via: 'callback', registeredAt: clock.now(), lastSeenAt: clock.now(), burstFrom: clock.now() },
    ]);
    const published = publishedOf(event.EventId!);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ EventBusName: TEST_BUS, Source: EVENT_SOURCE, DetailType: 'SegmentRealTimeData' });
    expect(published[0]!.Detail).toMatchObject({
      FormatVersion: 1,
      EventId: event.EventId,
      EventType: 'SegmentRealTimeData',
      AppId: APP,
      EventData: event.EventData,
      Matched: true,
      ReceivedAt: new Date(clock.now()).toISOString(),
    });
    expect(published[0]!.Detail).not.toHaveProperty('Signature');
    expect(JSON.stringify(published[0])).not.toContain(SECRET);
  });

  it('keeps one pending registration however many deliveries race, beside the run a lookup registered', async () => {
    const task = newTask();
    const events = Array.from({ length: 10 }, (_, sequence) => emulator.segmentEvent(task, SECRET, { sequence }));
    const deliveries = events.map((event) => invoke(JSON.stringify(event)));
    const lookup = stack.registry.registerRun(
      { appId: APP, roomId: 'cb-room', taskId: task.taskId },
      task.startTime,
      'lookup',
      clock.now(),
    );
    const responses = await Promise.all(deliveries);
    await lookup;
    expect(responses.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    // One delivery writes; the others wait for its write (in flight) and write nothing.
    expect(responses.filter((r) => r.json.Result.Outcome === 'registered')).toHaveLength(1);
    const entries = await registryFor(task.taskId);
    expect(entries.map((e) => e.kind).sort()).toEqual(['pending', 'run']);
    expect(entries.find((e) => e.kind === 'pending')).toMatchObject({ generation: 1 });
    expect(events.map((event) => publishedOf(event.EventId!).length)).toEqual(Array(10).fill(1));
  });

  it('uses the UserId as TaskId for auto segmentation', async () => {
    const task = newTask(true);
    const response = await invoke(JSON.stringify(emulator.segmentEvent(task, SECRET)));
    expect(response.json.Result.Outcome).toBe('registered');
    expect(await registryFor(task.taskId)).toHaveLength(1);
  });

  it('accepts a signature in upper case', async () => {
    const event = emulator.segmentEvent(newTask(), SECRET);
    const upper = await invoke(JSON.stringify({ ...event, Signature: event.Signature!.toUpperCase() }));
    expect(upper.statusCode).toBe(200);
  });
});

describe('callback: at most one registry write per address and minute', () => {
  it('a delivery for an address this instance registered within a minute writes nothing to DynamoDB or S3', async () => {
    const task = newTask();
    const at = clock.now();
    const first = await invoke(JSON.stringify(emulator.segmentEvent(task, SECRET, { sequence: 0 })));
    const before = requests();
    const outcomes: string[] = [];
    for (const [sequence, offset] of [
      [1, 20_000],
      [2, 40_000],
      [3, 59_999],
    ] as const) {
      clock.set(at + offset);
      outcomes.push((await invoke(JSON.stringify(emulator.segmentEvent(task, SECRET, { sequence })))).json.Result.Outcome);
    }
    expect(first.json.Result.Outcome).toBe('registered');
    expect(outcomes).toEqual(['recent', 'recent', 'recent']);
    expect(since(before)).toEqual({ s3: 0, dynamodb: 0, eventbridge: 3 });
    expect((await registryFor(task.taskId))[0]).toMatchObject({ generation: 1, lastSeenAt: at });
    // A minute after its write the next delivery writes again (once: its callbacks go on), and the entry's last-seen time moves on.
    clock.set(at + 60_000);
    const minuteLater = requests();
    const again = await invoke(JSON.stringify(emulator.segmentEvent(task, SECRET, { sequence: 4 })));
    expect(again.json.Result.Outcome).toBe('registered');
    expect(since(minuteLater)).toEqual({ s3: 0, dynamodb: 1, eventbridge: 1 });
    expect((await registryFor(task.taskId))[0]).toMatchObject({ generation: 2, registeredAt: at, lastSeenAt: at + 60_000, burstFrom: at });
  });

  it('a delivery after a silence longer than the burst gap (two memo periods and 30 s) writes twice and starts a new burst', async () => {
    const task = newTask(true);
    const at = clock.now();
    await invoke(JSON.stringify(emulator.segmentEvent(task, SECRET, { sequence: 0 })));
    clock.set(at + 2.5 * 60_000 + 1);
    const before = requests();
    const again = await invoke(JSON.stringify(emulator.segmentEvent(task, SECRET, { sequence: 1 })));
    expect(again.json.Result.Outcome).toBe('registered');
    expect(since(before)).toEqual({ s3: 0, dynamodb: 2, eventbridge: 1 });
    expect((await registryFor(task.taskId))[0]).toMatchObject({
      generation: 2,
      registeredAt: at,
      lastSeenAt: at + 2.5 * 60_000 + 1,
      burstFrom: at + 2.5 * 60_000 + 1,
    });
  });

  it("another instance's first delivery for the address writes (the memo is the instance's own)", async () => {
    const task = newTask();
    await invoke(JSON.stringify(emulator.segmentEvent(task, SECRET, { sequence: 0 })));
    const cold = instance();
    const before = requests();
    const response = await cold(JSON.stringify(emulator.segmentEvent(task, SECRET, { sequence: 1 })));
    expect(response.json.Result.Outcome).toBe('registered');
    expect(since(before)).toEqual({ s3: 0, dynamodb: 1, eventbridge: 1 });
    expect((await registryFor(task.taskId))[0]).toMatchObject({ generation: 2 });
  });

  it('handles a redelivered EventId harmlessly: three 200s, one registration, published each time (at least once)', async () => {
    const task = newTask();
    const event = emulator.segmentEvent(task, SECRET);
    const body = JSON.stringify(event);
    const before = requests();
    const responses = [await invoke(body), await invoke(body), await invoke(body)];
    expect(responses.map((r) => [r.statusCode, r.json.Result.Outcome])).toEqual([
      [200, 'registered'],
      [200, 'recent'],
      [200, 'recent'],
    ]);
    expect(since(before)).toEqual({ s3: 0, dynamodb: 2, eventbridge: 3 });
    expect(await registryFor(task.taskId)).toHaveLength(1);
    expect(publishedOf(event.EventId!).map((entry) => entry.Detail.EventId)).toEqual([event.EventId, event.EventId, event.EventId]);
  });
});

describe('callback: the bus must accept the event before the 2xx', () => {
  it.each([
    ['fails the entry (FailedEntryCount 1)', { kind: 'entry', times: 1 } as const],
    ['answers HTTP 500 to every attempt', { kind: 'http500', times: 2 } as const],
  ])('answers 503 when the bus %s, and publishes on redelivery', async (_name, failure) => {
    const task = newTask();
    const event = emulator.segmentEvent(task, SECRET);
    const body = JSON.stringify(event);
    stack.events.inject(failure);
    const refused = await invoke(body);
    stack.events.clearFaults();
    expect(refused.statusCode).toBe(503);
    expect(refused.json.ResponseMetadata.Error).toMatchObject({ Code: 'ServiceUnavailable.EventBus' });
    expect(refused.headers['Retry-After']).toBe('1');
    expect(refused.body).not.toMatch(/PublishRefusedError|InternalException|at .*\.ts:\d+/);
    expect(publishedOf(event.EventId!)).toHaveLength(0);
    // The registration was written before the bus refused: it is kept, and the redelivery only publishes.
    expect(await registryFor(task.taskId)).toHaveLength(1);
    const redelivered = await invoke(body);
    expect([redelivered.statusCode, redelivered.json.Result.Outcome]).toEqual([200, 'recent']);
    expect(publishedOf(event.EventId!)).toHaveLength(1);
  });
});

describe('callback: refused events', () => {
  it.each([
    ['a forged signature', (e: Record<string, string>) => ({ ...e, Signature: 'f'.repeat(64) })],
    [
      'a signature made with the wrong key',
      (e: Record<string, string>) => ({ ...e, Signature: callbackSignature(e as never, 'wrong-key') }),
    ],
    ['a tampered EventData', (e: Record<string, string>) => ({ ...e, EventData: e.EventData!.replace('cb-room', 'cb-roon') })],
    ['an AppId with no configured key', (e: Record<string, string>) => ({ ...e, AppId: 'unknown-app' })],
  ])('answers 401 to %s before any storage or bus call, logging nothing beyond its EventId', async (_name, forge) => {
    const task = newTask();
    const event = forge(emulator.segmentEvent(task, SECRET)) as Record<string, string>;
    const before = requests();
    const response = await invoke(JSON.stringify(event));
    expect(response.statusCode).toBe(401);
    expect(response.json.ResponseMetadata.Error.Code).toBe('SignatureDoesNotMatch');
    expect(since(before)).toEqual({ s3: 0, dynamodb: 0, eventbridge: 0 });
    expect(await registryFor(task.taskId)).toHaveLength(0);
    expect(lastLogs).toContain(event.EventId);
    expect(lastLogs).not.toContain('cb-room');
    expect(lastLogs).not.toContain(event.Nonce);
  });

  it.each([
    ['without a Signature', ({ Signature: _, ...unsigned }: Record<string, string>) => unsigned, 400],
    ['with an empty Signature', (e: Record<string, string>) => ({ ...e, Signature: '' }), 401],
  ])('answers an unsigned delivery (%s) %i before any storage or bus call', async (_name, unsign, status) => {
    // Prepare
    const task = newTask();
    const event = unsign(emulator.segmentEvent(task, SECRET) as Record<string, string>);
    const before = requests();
    // Act
    const response = await invoke(JSON.stringify(event));
    // Assess
    expect(response.statusCode).toBe(status);
    expect(since(before)).toEqual({ s3: 0, dynamodb: 0, eventbridge: 0 });
    expect(await registryFor(task.taskId)).toHaveLength(0);
  });

  it.each([
    ['stale', -11 * 60_000],
    ['future', 11 * 60_000],
  ])('refuses a %s EventTime as a replay', async (_name, offset) => {
    const task = newTask();
    const before = requests();
    const response = await invoke(JSON.stringify(emulator.segmentEvent(task, SECRET, { eventTime: clock.now() + offset })));
    expect(response.statusCode).toBe(400);
    expect(response.json.ResponseMetadata.Error.Code).toBe('InvalidTimestamp');
    expect(since(before)).toEqual({ s3: 0, dynamodb: 0, eventbridge: 0 });
  });

  it('answers 413 to a body over the size limit before any storage or bus call', async () => {
    const before = requests();
    const response = await invoke(JSON.stringify({ pad: 'x'.repeat(20_000) }));
    expect(response.statusCode).toBe(413);
    expect(response.json.ResponseMetadata.Error).toMatchObject({
      Code: 'RequestEntityTooLarge',
      Message: expect.stringContaining('16384'),
    });
    expect(since(before)).toEqual({ s3: 0, dynamodb: 0, eventbridge: 0 });
  });

  it.each([
    ['not JSON', '{"EventType":', 'body'],
    ['missing fields', '{"EventType":"SegmentRealTimeData"}', 'EventData'],
    [
      'fields of the wrong type',
      '{"EventType":1,"EventData":{},"EventTime":"","EventId":"x","AppId":"a","Version":"v","Nonce":"n","Signature":"s"}',
      'EventType',
    ],
  ])('answers 400 naming the problem for %s', async (_name, body, named) => {
    const response = await invoke(body);
    expect(response.statusCode).toBe(400);
    expect(response.json.ResponseMetadata.Error.Message).toContain(named);
  });

  it('answers 405 to GET and 415 to a non-JSON content type', async () => {
    const body = JSON.stringify(emulator.segmentEvent(newTask(), SECRET));
    const wrongMethod = await invoke(body, { method: 'GET' });
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.Allow).toBe('POST');
    expect(wrongMethod.json.ResponseMetadata.Error).toMatchObject({
      Code: 'InvalidHttpMethod',
      Message: expect.stringContaining('use POST'),
    });
    const wrongType = await invoke(body, { headers: { 'content-type': 'text/plain' } });
    expect(wrongType.statusCode).toBe(415);
    expect(wrongType.json.ResponseMetadata.Error.Code).toBe('UnsupportedMediaType');
  });
});

describe('callback: metrics', () => {
  it('publishes only the metrics the catalogue lists for the callback, in their units', async () => {
    // Prepare
    const event = emulator.segmentEvent(newTask(), SECRET);
    // Act: registered, then recent; refused for its signature
    const logs = [];
    for (const body of [event, event, { ...event, Signature: 'f'.repeat(64) }]) logs.push((await invoke(JSON.stringify(body))).logs);
    // Assess
    const published = publishedMetrics(logs.join('\n'));
    expect(published.map((metric) => metric.name)).toEqual(
      expect.arrayContaining(['CallbacksReceived', 'EventsPublished', 'RegistrationsSkipped', 'CallbacksRefused']),
    );
    expect(uncatalogued('callback', published)).toEqual([]);
  });
});

describe('callback: tolerant of what it does not know', () => {
  it('publishes an event whose EventData is not JSON as unmatched, registering nothing', async () => {
    const base = emulator.segmentEvent(newTask(), SECRET);
    const { Signature: _ignored, ...rest } = base;
    const unsigned = { ...rest, EventData: 'segment ready: room=cb-room, no json here' } as Record<string, string>;
    const event: Record<string, string> = { ...unsigned, Signature: callbackSignature(unsigned as never, SECRET) };
    const before = requests();
    const first = await invoke(JSON.stringify(event));
    expect(first.json.Result.Outcome).toBe('unmatched');
    expect(since(before)).toEqual({ s3: 0, dynamodb: 0, eventbridge: 1 });
    expect(publishedOf(event.EventId!).map((entry) => [entry.Detail.EventData, entry.Detail.Matched])).toEqual([[event.EventData, false]]);
  });

  it('answers 200 to other event types, publishing them under their own DetailType and registering nothing', async () => {
    const unsigned = {
      EventType: 'RecordStarted',
      EventData: '{}',
      EventTime: new Date(clock.now()).toISOString(),
      EventId: 'other-1',
      AppId: APP,
      Version: '2020-12-01',
      Nonce: 'abcd',
    };
    const before = requests();
    const response = await invoke(JSON.stringify({ ...unsigned, Signature: callbackSignature(unsigned, SECRET) }));
    expect(response.statusCode).toBe(200);
    expect(response.json.Result.Outcome).toBe('ignored');
    expect(lastLogs).toContain('not a segment event');
    expect(since(before)).toEqual({ s3: 0, dynamodb: 0, eventbridge: 1 });
    expect(publishedOf('other-1').map((entry) => entry.DetailType)).toEqual(['RecordStarted']);
  });
});

describe('callback: the 5-second limit', () => {
  it('answers 503 within its budget when the registry is too slow, and the redelivery is answered 200', async () => {
    const send = instance({ budgetMs: 300, logLevel: 'SILENT' });
    const task = newTask();
    const event = emulator.segmentEvent(task, SECRET);
    const body = JSON.stringify(event);
    stack.dynamodb.inject({ kind: 'latency', latencyMs: 1_500, operation: 'UpdateItem', times: 1 });
    const slow = await send(body);
    stack.dynamodb.clearFaults();
    await new Promise((resolve) => setTimeout(resolve, 1_600)); // past the slow write's answer
    const redelivered = await send(body);
    expect(slow.statusCode).toBe(503);
    expect(slow.json.ResponseMetadata.Error.Code).toBe('ServiceUnavailable');
    expect(slow.headers['Retry-After']).toBe('1');
    expect(redelivered.statusCode).toBe(200);
    expect(await registryFor(task.taskId)).toHaveLength(1);
    // The redelivery registered the task and published the event: it is on the bus at least once.
    expect(publishedOf(event.EventId!).length).toBeGreaterThanOrEqual(1);
  });

  it('cuts its DynamoDB request still running at its budget, answering 503 as before (the redelivery does the work)', async () => {
    // Prepare: each DynamoDB attempt may take 4 s; the registry answers in 2 s, past the 500 ms budget: only the budget
    // can cut the request.
    const slowStores = callbackSettings({
      ...stack.env,
      CALLBACK_SECRETS: JSON.stringify({ [APP]: SECRET }),
      CALLBACK_STORAGE_TIMEOUT_MS: '4000',
    });
    const send = instance({ settings: slowStores, budgetMs: 500, logLevel: 'SILENT' });
    const event = emulator.segmentEvent(newTask(), SECRET);
    const abandoned = stack.dynamodb.abandoned;
    stack.dynamodb.inject({ kind: 'latency', latencyMs: 2_000, operation: 'UpdateItem', times: 1 });
    // Act
    const slow = await send(JSON.stringify(event));
    stack.dynamodb.clearFaults();
    // Assess: the answer a late delivery always had, and the request cut, not left to run on.
    expect(slow.statusCode).toBe(503);
    expect(slow.json.ResponseMetadata.Error.Code).toBe('ServiceUnavailable');
    expect(slow.headers['Retry-After']).toBe('1');
    await waitForAbandoned(() => stack.dynamodb.abandoned, abandoned + 1);
    expect(publishedOf(event.EventId!)).toHaveLength(0);
  });
});

describe('callback: its secret read under its deadline', () => {
  it('answers 503 at its budget while the secret parameter is slow to read, before any storage or bus call', async () => {
    // Prepare: the callback SecretKeys in an SSM parameter that answers in 2 s; a 500 ms budget.
    const ssm = new SsmTestServer();
    const endpoint = await ssm.start();
    process.env.AWS_REGION ??= 'us-east-1'; // the SSM client's, as Lambda sets it
    try {
      ssm.parameters.set('/rtc/callback-secrets', JSON.stringify({ [APP]: SECRET }));
      ssm.latencyMs = 2_000;
      const fromSsm = callbackSettings({ ...stack.env, CALLBACK_SECRETS_PARAMETER: '/rtc/callback-secrets', SSM_ENDPOINT: endpoint });
      const send = instance({ settings: fromSsm, secrets: undefined, budgetMs: 500, logLevel: 'SILENT' });
      const event = emulator.segmentEvent(newTask(), SECRET);
      const writes = stack.dynamodb.counts.UpdateItem ?? 0;
      // Act
      const slow = await send(JSON.stringify(event));
      // Assess: answered before SSM was (the read goes on, shared, for the next delivery), as a late delivery is answered.
      expect(ssm.answered).toBe(0);
      expect(slow.statusCode).toBe(503);
      expect(slow.json.ResponseMetadata.Error.Code).toBe('ServiceUnavailable');
      expect(slow.headers['Retry-After']).toBe('1');
      expect(stack.dynamodb.counts.UpdateItem ?? 0).toBe(writes);
      expect(publishedOf(event.EventId!)).toHaveLength(0);
    } finally {
      await ssm.stop();
    }
  });
});

describe('callback: a burst', () => {
  it('takes 1,000 events from 16 concurrent senders, publishing every delivery and losing no registration', async () => {
    // Prepare: 100 tasks, 10 segments each, every 7th event delivered twice
    const tasks = Array.from({ length: 100 }, () => newTask());
    const events = tasks.flatMap((task) => Array.from({ length: 10 }, (_, sequence) => emulator.segmentEvent(task, SECRET, { sequence })));
    const deliveries = events.flatMap((event, i) => (i % 7 === 0 ? [event, event] : [event]));
    const before = requests();
    // Act
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < deliveries.length) {
          const event = deliveries[next++]!;
          statuses.push((await invoke(JSON.stringify(event))).statusCode);
        }
      }),
    );
    // Assess
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const used = since(before);
    expect(used.s3).toBe(0);
    expect(used.eventbridge).toBe(deliveries.length);
    // One registration per task (a sighting that finds no entry, then the upsert): the clock stands still, so every later
    // delivery of a task finds it fresh or in flight.
    expect(used.dynamodb).toBe(2 * 100);
    for (const event of events) expect(publishedOf(event.EventId!).length).toBeGreaterThanOrEqual(1);
    const registered: string[] = [];
    for await (const entry of allEntries(stack.registry))
      if (tasks.some((t) => t.taskId === entry.address.taskId)) registered.push(entry.address.taskId);
    expect(registered).toHaveLength(100);
    expect(new Set(registered).size).toBe(100);
    console.log(JSON.stringify({ callback_burst_deliveries: deliveries.length, ...used }));
  }, 120_000);
});
