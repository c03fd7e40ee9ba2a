/** The callback function over a real S3-protocol server and dynalite, with events signed by the emulator. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openArchive, type ArchiveAccess } from '../../lib/archive/access.ts';
import { allEntries } from '../../lib/archive/registry.ts';
import { callbackSignature } from '../../lib/callback/signature.ts';
import { loadEnv, CallbackEnvSchema } from '../../lib/config.ts';
import { VolcEmulator, type EmulatedTask } from '../emulator/volc-emulator.ts';
import { startArchiveStack, type ArchiveStack } from '../support/archive-stack.ts';
import { ManualClock } from '../support/clock.ts';
import { TEST_CREDENTIALS } from '../support/credentials.ts';
import { callbackInvoker, type CallbackInvoker } from '../support/callback-stack.ts';

const SECRET = 'callback-secret-for-tests-3c9e';
const APP = 'cb-app';
let stack: ArchiveStack;
let access: ArchiveAccess;
let emulator: VolcEmulator;
let clock: ManualClock;
let invoke: CallbackInvoker;

beforeAll(async () => {
  stack = await startArchiveStack('cb/');
  // Wired from the environment, as the function is (lib/config.ts).
  access = openArchive(loadEnv(CallbackEnvSchema, { ...stack.env, CALLBACK_SECRETS: JSON.stringify({ [APP]: SECRET }) }));
  clock = new ManualClock(Date.now());
  emulator = new VolcEmulator({ credentials: [TEST_CREDENTIALS], now: clock.now });
  const invokeCallback = callbackInvoker({
    access,
    secrets: { [APP]: SECRET, 'other-app': 'another-secret' },
    now: clock.now,
    maxBodyBytes: 16_384,
  });
  invoke = async (body, overrides) => {
    const reply = await invokeCallback(body, overrides);
    lastLogs = reply.logs;
    return reply;
  };
});
afterAll(() => stack.stop());

let lastLogs = '';
let taskCount = 0;
const newTask = (auto = false): EmulatedTask =>
  emulator.seedTask({ appId: APP, roomId: 'cb-room', taskId: `cb-task-${taskCount++}`, auto });

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of stack.store.keys(prefix)) keys.push(key);
  return keys;
}

async function registryFor(taskId: string) {
  const entries = [];
  for await (const entry of allEntries(stack.registry)) if (entry.address.taskId === taskId) entries.push(entry);
  return entries;
}

const eventsOf = (taskId: string) => keysUnder(`${stack.keys.task({ appId: APP, roomId: 'cb-room', taskId })}events/`);

describe('callback: a valid SegmentRealTimeData event', () => {
  it('registers the task and stores the raw event with EventData exactly as received', async () => {
    const task = newTask();
    const event = emulator.segmentEvent(task, SECRET);
    const response = await invoke(JSON.stringify(event));
    expect(response.statusCode).toBe(200);
    expect(response.json.Result).toEqual({ EventId: event.EventId, Outcome: 'stored' });
    const entries = await registryFor(task.taskId);
    expect(entries).toMatchObject([{ kind: 'pending', state: 'unknown', via: 'callback', registeredAt: clock.now() }]);
    const events = await eventsOf(task.taskId);
    expect(events).toHaveLength(1);
    const stored = (await stack.store.getJson(events[0]!))!.body as Record<string, unknown>;
    expect(stored.EventData).toBe(event.EventData);
    expect(stored).not.toHaveProperty('Signature');
    expect(JSON.stringify(stored)).not.toContain(SECRET);
  });

  it('keeps one pending registration however many deliveries race, beside the run a lookup registered', async () => {
    const task = newTask();
    const deliveries = Array.from({ length: 10 }, (_, sequence) =>
      invoke(JSON.stringify(emulator.segmentEvent(task, SECRET, { sequence }))),
    );
    const lookup = stack.registry.registerRun(
      { appId: APP, roomId: 'cb-room', taskId: task.taskId },
      task.startTime,
      'lookup',
      clock.now(),
    );
    const responses = await Promise.all(deliveries);
    await lookup;
    expect(responses.every((r) => r.json.Result.Outcome === 'stored')).toBe(true);
    const entries = await registryFor(task.taskId);
    expect(entries.map((e) => e.kind).sort()).toEqual(['pending', 'run']);
    expect(entries.find((e) => e.kind === 'pending')).toMatchObject({ generation: 10 });
  });

  it('uses the UserId as TaskId for auto segmentation', async () => {
    const task = newTask(true);
    const response = await invoke(JSON.stringify(emulator.segmentEvent(task, SECRET)));
    expect(response.json.Result.Outcome).toBe('stored');
    expect(await registryFor(task.taskId)).toHaveLength(1);
  });

  it('accepts a signature in upper case', async () => {
    const event = emulator.segmentEvent(newTask(), SECRET);
    const upper = await invoke(JSON.stringify({ ...event, Signature: event.Signature!.toUpperCase() }));
    expect(upper.statusCode).toBe(200);
  });

  it('handles one EventId once: three deliveries, one stored event, one registry entry, three 200s', async () => {
    const task = newTask();
    const body = JSON.stringify(emulator.segmentEvent(task, SECRET));
    const responses = [await invoke(body), await invoke(body), await invoke(body)];
    expect(responses.map((r) => [r.statusCode, r.json.Result.Outcome])).toEqual([
      [200, 'stored'],
      [200, 'duplicate'],
      [200, 'duplicate'],
    ]);
    expect(await registryFor(task.taskId)).toHaveLength(1);
    expect(await eventsOf(task.taskId)).toHaveLength(1);
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
  ])('answers 401 to %s and neither stores nor logs the event beyond its EventId', async (_name, forge) => {
    const task = newTask();
    const event = forge(emulator.segmentEvent(task, SECRET)) as Record<string, string>;
    const response = await invoke(JSON.stringify(event));
    expect(response.statusCode).toBe(401);
    expect(response.json.ResponseMetadata.Error.Code).toBe('SignatureDoesNotMatch');
    expect(await registryFor(task.taskId)).toHaveLength(0);
    expect(await keysUnder(stack.keys.task({ appId: APP, roomId: 'cb-room', taskId: task.taskId }))).toHaveLength(0);
    expect(lastLogs).toContain(event.EventId);
    expect(lastLogs).not.toContain('cb-room');
    expect(lastLogs).not.toContain(event.Nonce);
  });

  it.each([
    ['stale', -11 * 60_000],
    ['future', 11 * 60_000],
  ])('refuses a %s EventTime as a replay', async (_name, offset) => {
    const task = newTask();
    const response = await invoke(JSON.stringify(emulator.segmentEvent(task, SECRET, { eventTime: clock.now() + offset })));
    expect(response.statusCode).toBe(400);
    expect(response.json.ResponseMetadata.Error.Code).toBe('InvalidTimestamp');
    expect(await registryFor(task.taskId)).toHaveLength(0);
  });

  it('answers 413 to a body over the size limit', async () => {
    const response = await invoke(JSON.stringify({ pad: 'x'.repeat(20_000) }));
    expect(response.statusCode).toBe(413);
    expect(response.json.ResponseMetadata.Error).toMatchObject({
      Code: 'RequestEntityTooLarge',
      Message: expect.stringContaining('16384'),
    });
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

describe('callback: tolerant of what it does not know', () => {
  it('stores an event whose EventData is not JSON under "unmatched", once', async () => {
    const base = emulator.segmentEvent(newTask(), SECRET);
    const { Signature: _ignored, ...rest } = base;
    const unsigned = { ...rest, EventData: 'segment ready: room=cb-room, no json here' } as Record<string, string>;
    const event: Record<string, string> = { ...unsigned, Signature: callbackSignature(unsigned as never, SECRET) };
    const first = await invoke(JSON.stringify(event));
    const again = await invoke(JSON.stringify(event));
    expect([first.json.Result.Outcome, again.json.Result.Outcome]).toEqual(['unmatched', 'duplicate']);
    const unmatched = await keysUnder('cb/callbacks/unmatched/');
    const stored = await Promise.all(unmatched.map(async (k) => (await stack.store.getJson(k))!.body as Record<string, unknown>));
    expect(stored.filter((s) => s.EventId === event.EventId).map((s) => s.EventData)).toEqual([event.EventData]);
  });

  it('answers 200 to other event types and ignores them', async () => {
    const unsigned = {
      EventType: 'RecordStarted',
      EventData: '{}',
      EventTime: new Date(clock.now()).toISOString(),
      EventId: 'other-1',
      AppId: APP,
      Version: '2020-12-01',
      Nonce: 'abcd',
    };
    const response = await invoke(JSON.stringify({ ...unsigned, Signature: callbackSignature(unsigned, SECRET) }));
    expect(response.statusCode).toBe(200);
    expect(response.json.Result.Outcome).toBe('ignored');
    expect(lastLogs).toContain('not a segment event');
  });
});

describe('callback: the 5-second limit', () => {
  it('answers 503 within its budget when storage is too slow, and the redelivery is stored', async () => {
    const send = callbackInvoker({ access, secrets: { [APP]: SECRET }, now: clock.now, budgetMs: 300, logLevel: 'SILENT' });
    const task = newTask();
    const body = JSON.stringify(emulator.segmentEvent(task, SECRET));
    stack.s3.inject({ kind: 'latency', latencyMs: 1_500, operation: 'PUT', times: 1 });
    const slow = await send(body);
    stack.s3.clearFaults();
    await new Promise((resolve) => setTimeout(resolve, 1_600)); // let the slow write finish
    const redelivered = await send(body);
    expect(slow.statusCode).toBe(503);
    expect(slow.json.ResponseMetadata.Error.Code).toBe('ServiceUnavailable');
    expect(slow.headers['Retry-After']).toBe('1');
    expect(redelivered.statusCode).toBe(200);
    expect(await eventsOf(task.taskId)).toHaveLength(1);
  });
});

describe('callback: a burst', () => {
  it('takes 1,000 events from 16 concurrent senders, losing and duplicating none', async () => {
    // Prepare: 100 tasks, 10 segments each, every 7th event delivered twice
    const tasks = Array.from({ length: 100 }, () => newTask());
    const events = tasks.flatMap((task) => Array.from({ length: 10 }, (_, sequence) => emulator.segmentEvent(task, SECRET, { sequence })));
    const deliveries = events.flatMap((event, i) => (i % 7 === 0 ? [event, event] : [event]));
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
    let stored = 0;
    for (const task of tasks) stored += (await eventsOf(task.taskId)).length;
    expect(stored).toBe(1000);
    const registered: string[] = [];
    for await (const entry of allEntries(stack.registry))
      if (tasks.some((t) => t.taskId === entry.address.taskId)) registered.push(entry.address.taskId);
    expect(registered).toHaveLength(100);
    expect(new Set(registered).size).toBe(100);
  }, 120_000);
});
