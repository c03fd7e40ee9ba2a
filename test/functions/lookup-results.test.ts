/**
 * Every declared lookup action (lib/lookup/actions.ts) answers what its declaration says: real
 * answers (handler → client → emulator, with an archive on the S3-protocol server and dynalite)
 * against the action's Result schema, in the envelope the OpenAPI document describes, and its
 * errors against the document's error envelope. An action declared without cases here fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LOOKUP_ACTIONS, type LookupAction } from '../../lib/lookup/actions.ts';
import { ErrorEnvelopeSchema, ResponseMetadataSchema } from '../../lib/openapi.ts';
import { httpEvent } from '../support/http-events.ts';
import { startLookupStack, type LookupStack } from '../support/lookup-stack.ts';

const APP = 'app-results';
let stack: LookupStack;

beforeAll(async () => {
  stack = await startLookupStack({ archive: true, emulator: { withoutTaskId: 'newest-task' } });
});
afterAll(() => stack.stop());

const query = (action: string, parameters: Record<string, string>): Array<[string, string]> => [
  ['Action', action],
  ['Version', '2023-11-01'],
  ['AppId', APP],
  ['RoomId', 'room'],
  ...Object.entries(parameters),
];

async function call(action: string, parameters: Record<string, string>, method = 'GET') {
  const result = await stack.invoke(httpEvent(query(action, parameters), { method }));
  return { ...result, json: JSON.parse(result.body) };
}

type Answer = Awaited<ReturnType<typeof call>>;

/** Each action's answers: successes (at least one per form of Result) and errors. */
const CASES: Record<string, { successes: () => Promise<Answer[]>; errors: () => Promise<Answer[]> }> = {
  GetSegmentTask: {
    async successes() {
      const running = stack.emulator.seedTask({ appId: APP, roomId: 'room', taskId: 'get-running' });
      stack.emulator.seedTask({ appId: APP, roomId: 'room', taskId: 'get-done', status: 3, stopReason: 'StopByAPI' });
      const live = await call('GetSegmentTask', { TaskId: 'get-running' });
      const terminal = await call('GetSegmentTask', { TaskId: 'get-done' });
      const cached = await call('GetSegmentTask', { TaskId: 'get-done' });
      const named = await call('GetSegmentTask', { TaskId: 'get-running', StartTime: String(running.startTime) });
      stack.emulator.inject({ kind: 'http5xx' });
      const archived = await call('GetSegmentTask', { TaskId: 'get-running' });
      stack.emulator.clearFaults();
      const withoutTaskId = await call('GetSegmentTask', {});
      expect([live, terminal, cached, archived].map((answer) => answer.headers['X-Answer-Source'])).toEqual([
        'volcengine',
        'volcengine',
        'cache',
        'archive',
      ]);
      return [live, terminal, cached, named, archived, withoutTaskId];
    },
    async errors() {
      const unknown = await call('GetSegmentTask', { TaskId: 'get-nobody' });
      const badStartTime = await call('GetSegmentTask', { TaskId: 'get-running', StartTime: '12' });
      stack.emulator.inject({ kind: 'throttle' });
      const throttled = await call('GetSegmentTask', { TaskId: 'get-throttled' });
      stack.emulator.clearFaults();
      stack.emulator.inject({ kind: 'latency', latencyMs: 2_500 });
      const late = await call('GetSegmentTask', { TaskId: 'get-late' });
      stack.emulator.clearFaults();
      stack.emulator.inject({ kind: 'http5xx' });
      const failing = await call('GetSegmentTask', { TaskId: 'get-nobody' });
      stack.emulator.clearFaults();
      const post = await call('GetSegmentTask', { TaskId: 'get-running' }, 'POST');
      const answers = [unknown, badStartTime, throttled, late, failing, post];
      expect(answers.map((answer) => answer.statusCode)).toEqual([404, 400, 429, 504, 502, 405]);
      return answers;
    },
  },
  WatchSegmentTask: {
    successes: async () => [await call('WatchSegmentTask', { TaskId: 'watched' }), await call('WatchSegmentTask', { TaskId: 'watched' })],
    errors: async () => [await call('WatchSegmentTask', {}), await call('WatchSegmentTask', { TaskId: 'bad/id' })],
  },
  ListSegmentTaskSnapshots: {
    async successes() {
      stack.emulator.seedTask({ appId: APP, roomId: 'room', taskId: 'listed' });
      await call('GetSegmentTask', { TaskId: 'listed' });
      return [
        await call('ListSegmentTaskSnapshots', { TaskId: 'listed' }),
        await call('ListSegmentTaskSnapshots', { TaskId: 'listed', PageSize: '1' }),
      ];
    },
    async errors() {
      const none = await call('ListSegmentTaskSnapshots', { TaskId: 'never-archived' });
      const badToken = await call('ListSegmentTaskSnapshots', { TaskId: 'listed', PageToken: 'not-ours' });
      stack.s3!.inject({ kind: 'http5xx' });
      const archiveDown = await call('ListSegmentTaskSnapshots', { TaskId: 'listed' });
      stack.s3!.clearFaults();
      expect([none, badToken, archiveDown].map((answer) => answer.statusCode)).toEqual([404, 400, 503]);
      return [none, badToken, archiveDown];
    },
  },
  ListArchivedSegmentTasks: {
    async successes() {
      stack.emulator.seedTask({ appId: APP, roomId: 'room', taskId: 'archived-a' });
      stack.emulator.seedTask({ appId: APP, roomId: 'room', taskId: 'archived-b' });
      await call('GetSegmentTask', { TaskId: 'archived-a' });
      await call('GetSegmentTask', { TaskId: 'archived-b' });
      const first = await call('ListArchivedSegmentTasks', { PageSize: '1' });
      const next = await call('ListArchivedSegmentTasks', { PageSize: '1', PageToken: first.json.Result.NextPageToken });
      return [first, next];
    },
    async errors() {
      const notOurToken = await call('ListArchivedSegmentTasks', { PageToken: '<script>' });
      const badSize = await call('ListArchivedSegmentTasks', { PageSize: '0' });
      expect([notOurToken, badSize].map((answer) => [answer.statusCode, answer.json.ResponseMetadata.Error.Code])).toEqual([
        [400, 'InvalidParameter'],
        [400, 'InvalidParameter'],
      ]);
      return [notOurToken, badSize];
    },
  },
};

/** The success envelope of `action`: the document's ResponseMetadata and the Result the action declares. */
const successEnvelope = (action: LookupAction) => z.object({ ResponseMetadata: ResponseMetadataSchema, Result: action.result.optional() });

/** Problems of `json` against `schema`, including fields the schema does not name (its parse would drop them). */
function problems(schema: z.ZodType, json: unknown): unknown[] {
  const parsed = schema.safeParse(json);
  if (!parsed.success) return parsed.error.issues;
  return JSON.stringify(parsed.data) === JSON.stringify(json) ? [] : [{ undeclared: json, declared: parsed.data }];
}

describe('every declared lookup action', () => {
  it('has cases here', () => {
    expect(LOOKUP_ACTIONS.map((action) => action.name).filter((name) => !CASES[name])).toEqual([]);
  });

  it.each(LOOKUP_ACTIONS.map((action) => [action.name, action] as const))(
    '%s answers Results its declaration describes, keeping nothing it does not',
    async (name, action) => {
      // Act
      const answers = await CASES[name]!.successes();
      // Assess
      for (const answer of answers) {
        expect(answer.statusCode, answer.body).toBe(200);
        expect(problems(successEnvelope(action), answer.json)).toEqual([]);
        expect(answer.json.ResponseMetadata).toMatchObject({ Action: name, Version: '2023-11-01' });
      }
    },
  );

  it.each(LOOKUP_ACTIONS.map((action) => [action.name] as const))('%s answers its errors in the error envelope', async (name) => {
    // Act
    const answers = await CASES[name]!.errors();
    // Assess
    for (const answer of answers) {
      expect(answer.statusCode, answer.body).toBeGreaterThanOrEqual(400);
      expect(problems(ErrorEnvelopeSchema, answer.json)).toEqual([]);
      // A request refused before it is read (its method) names no action; any other names the one it asked for.
      if (answer.statusCode === 405) expect(answer.json.ResponseMetadata.Action).toBeUndefined();
      else expect(answer.json.ResponseMetadata).toMatchObject({ Action: name, Version: '2023-11-01' });
      if (answer.statusCode === 429 || answer.statusCode === 503) expect(answer.headers['Retry-After']).toMatch(/^\d+$/);
      if (answer.statusCode === 405) expect(answer.headers.Allow).toBe('GET');
    }
  });

  it('answers a request that names no served action or version in the error envelope, naming none', async () => {
    // Act
    const answers = [];
    for (const raw of ['Action=ListEverything&Version=2023-11-01', 'Action=GetSegmentTask&Version=2019-01-01', 'Version=2023-11-01']) {
      const result = await stack.invoke(httpEvent(raw));
      answers.push({ ...result, json: JSON.parse(result.body) });
    }
    // Assess
    expect(answers.map((answer) => [answer.statusCode, answer.json.ResponseMetadata.Error.Code])).toEqual([
      [404, 'InvalidActionOrVersion'],
      [404, 'InvalidActionOrVersion'],
      [400, 'MissingParameter'],
    ]);
    for (const answer of answers) {
      expect(problems(ErrorEnvelopeSchema, answer.json)).toEqual([]);
      expect(answer.json.ResponseMetadata.Action).toBeUndefined();
    }
  });
});
