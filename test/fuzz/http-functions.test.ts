/**
 * Property-based fuzzing of the HTTP functions with malformed API Gateway events (fast-check,
 * seeded). Every answer must be a 4xx in Volcengine's envelope whose message names the problem,
 * or a correct success; a 5xx only when the emulator was told to fail; nothing may be thrown.
 * FUZZ_RUNS sets the number of cases (CI: 2,000; `npm run fuzz`: 20,000); FUZZ_SEED the seed.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callbackSignature } from '../../lib/callback/signature.ts';
import type { HttpResult } from '../../lib/http/http-function.ts';
import { startArchiveStack, type ArchiveStack } from '../support/archive-stack.ts';
import { testCallbackHandler } from '../support/callback-stack.ts';
import { lambdaContext } from '../support/http-events.ts';
import { startLookupStack, type LookupStack } from '../support/lookup-stack.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const SECRET = 'fuzz-callback-secret';
const figures = { cases: 0, failures: 0, unexplained5xx: 0, thrown: 0 };
const STACK_TRACE = /\n\s+at |\bat \w+ \(|node:internal|\.ts:\d+/;

let stack: LookupStack;
let archive: ArchiveStack;
let callback: (event: unknown) => Promise<HttpResult>;

beforeAll(async () => {
  stack = await startLookupStack({
    env: { LOOKUP_DEADLINE_MS: '500', VOLC_MAX_ATTEMPTS: '2', LOOKUP_QPS: '50', LOOKUP_BURST: '5' },
    emulator: { qpsLimits: { GetSegmentTask: 1_000_000 } },
  });
  stack.emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'task' });
  stack.emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'done', status: 3, stopReason: 'StopByAPI' });
  archive = await startArchiveStack('');
  const handler = testCallbackHandler({
    registry: archive.registry,
    publisher: archive.publisher,
    secrets: { app: SECRET },
    maxBodyBytes: 8_192,
    logLevel: 'SILENT',
  });
  callback = (event) => handler(event, lambdaContext()) as Promise<HttpResult>;
});

afterAll(async () => {
  await stack.stop();
  await archive.stop();
  console.log(
    JSON.stringify({
      fuzz_cases: figures.cases,
      fuzz_failures: figures.failures,
      fuzz_5xx_without_upstream_cause: figures.unexplained5xx,
      fuzz_thrown: figures.thrown,
      seed: SEED,
    }),
  );
});

// ---- generators -------------------------------------------------------------------------

const nastyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    '.',
    '..',
    '../etc/passwd',
    '%00',
    '\u0000',
    '\r\nX-Injected: 1',
    'a'.repeat(129),
    'a'.repeat(4000),
    '名字',
    '😀',
    '%E4%BB',
    '%',
    '+',
    ' ',
    'task',
    'done',
    'room',
    'app',
  ),
);
const encode = (value: string) => {
  try {
    return encodeURIComponent(value);
  } catch {
    return value.replace(/[^\x21-\x7e]/g, '%FF');
  }
};
const queryPair = fc.tuple(
  fc.constantFrom('Action', 'Version', 'AppId', 'RoomId', 'TaskId', 'StartTime', 'PageSize', 'PageToken', 'X', ''),
  fc.oneof(
    nastyText,
    fc.constantFrom('GetSegmentTask', 'WatchSegmentTask', 'ListSegmentTaskSnapshots', '2023-11-01', '2022-06-01', '2020-12-01'),
  ),
  fc.boolean(),
);
const rawQuery = fc.oneof(
  fc
    .array(queryPair, { maxLength: 9 })
    .map((pairs) => pairs.map(([k, v, raw]) => (raw ? `${k}=${v}` : `${encode(k)}=${encode(v)}`)).join('&')),
  fc.constant('Action=GetSegmentTask&Version=2023-11-01&AppId=app&RoomId=room&TaskId=task'),
  fc.constant('Action=GetSegmentTask&Version=2023-11-01&AppId=app&RoomId=room&TaskId=done'),
  fc.string({ unit: 'binary', maxLength: 200 }),
);
const method = fc.constantFrom('GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'get', 'PATCH', '\r\n');
const headers = fc.dictionary(
  fc.constantFrom('content-type', 'Content-Type', 'x-forwarded-for', 'authorization', 'host', 'x-amz-date', 'cookie'),
  fc.oneof(
    nastyText,
    fc.constantFrom(
      'application/json',
      'text/plain',
      'application/json; charset=utf-8',
      'multipart/form-data',
      'application/json\r\nX-Evil: 1',
    ),
  ),
  { maxKeys: 4 },
);
const body = fc.option(fc.oneof(nastyText, fc.json(), fc.constant('x'.repeat(20_000))), { nil: undefined });

function apiEvent(path: string, m: string, q: string, h: Record<string, string>, b: string | undefined, base64: boolean) {
  return {
    version: '2.0',
    routeKey: `${m} ${path}`,
    rawPath: path,
    rawQueryString: q,
    headers: h,
    requestContext: { http: { method: m, path, protocol: 'HTTP/1.1', sourceIp: '198.51.100.7' }, requestId: 'fuzz', stage: '$default' },
    ...(b === undefined ? {} : { body: base64 ? Buffer.from(b).toString('base64') : b, isBase64Encoded: base64 }),
  };
}

/** A structurally plausible callback with one or more fields broken. */
const callbackBody = fc
  .record({
    EventType: fc.oneof(fc.constant('SegmentRealTimeData'), nastyText),
    EventData: fc.oneof(
      fc.constant('{"RoomId":"room","TaskId":"task"}'),
      fc.json(),
      nastyText,
      fc.constant('{"RoomId":"../x","UserId":"\\u0000"}'),
    ),
    EventTime: fc.oneof(
      fc.constant(new Date().toISOString()),
      nastyText,
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    ),
    EventId: fc.oneof(fc.uuid(), nastyText),
    AppId: fc.oneof(fc.constant('app'), nastyText),
    Version: fc.constant('2020-12-01'),
    Nonce: fc.string({ maxLength: 6 }),
  })
  .chain((event) =>
    fc.record({
      event: fc.constant(event),
      signed: fc.boolean(),
      drop: fc.option(fc.constantFrom('EventType', 'EventData', 'EventTime', 'EventId', 'AppId', 'Version', 'Nonce', 'Signature'), {
        nil: undefined,
      }),
      broken: fc.boolean(),
    }),
  )
  .map(({ event, signed, drop, broken }) => {
    const full: Record<string, unknown> = { ...event, Signature: signed ? callbackSignature(event, SECRET) : 'f'.repeat(64) };
    if (drop) delete full[drop];
    const text = JSON.stringify(full);
    return broken ? text.slice(0, Math.max(1, Math.floor(text.length / 2))) : text;
  });

// ---- the property ------------------------------------------------------------------------

function check(result: HttpResult, upstreamFailing: boolean, request: string): void {
  figures.cases++;
  const problems: string[] = [];
  let json: any;
  try {
    json = JSON.parse(result.body);
  } catch {
    problems.push('body is not JSON');
  }
  if (STACK_TRACE.test(result.body)) problems.push('stack trace in body');
  for (const value of Object.values(result.headers ?? {})) if (/[\r\n]/.test(String(value))) problems.push('header value with CR/LF');
  const status = result.statusCode;
  if (status >= 500) {
    if (!upstreamFailing) {
      figures.unexplained5xx++;
      problems.push(`5xx (${status}) without an upstream cause`);
    }
  } else if (status >= 400) {
    const error = json?.ResponseMetadata?.Error;
    if (!error?.Code || !error?.Message) problems.push('4xx without Error.Code/Message');
    if (!/^\d{14}[0-9A-F]{16}$/.test(json?.ResponseMetadata?.RequestId ?? '')) problems.push('no RequestId');
    if (status === 400 && !/parameter|body|GET request|envelope|EventTime|JSON|event/i.test(error?.Message ?? ''))
      problems.push(`400 message does not name the problem: ${error?.Message}`);
  } else if (status === 200) {
    if (json?.Result === undefined || json?.ResponseMetadata?.Error) problems.push('200 without Result');
  } else {
    problems.push(`unexpected status ${status}`);
  }
  if (problems.length) {
    figures.failures++;
    throw new Error(`${problems.join('; ')} for ${request}: ${status} ${result.body.slice(0, 300)}`);
  }
}

async function noThrow<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    figures.thrown++;
    throw new Error(`the handler threw: ${String(error)}`);
  }
}

describe('fuzzing the HTTP functions', () => {
  it(`lookup: ${Math.round(RUNS * 0.6)} malformed requests`, async () => {
    await fc.assert(
      fc.asyncProperty(
        method,
        rawQuery,
        headers,
        body,
        fc.boolean(),
        fc.constantFrom('none', 'none', 'none', 'http5xx', 'latency', 'reset', 'malformed-json'),
        async (m, q, h, b, base64, fault) => {
          stack.emulator.clearFaults();
          if (fault !== 'none') stack.emulator.inject({ kind: fault as 'http5xx', latencyMs: 2_000 });
          const result = await noThrow(() => stack.invoke(apiEvent('/', m, q, h, b, base64)));
          stack.emulator.clearFaults();
          check(result, fault !== 'none', `${m} /?${q}`);
          if (result.statusCode === 200 && /TaskId=task(&|$)/.test(q)) expect(JSON.parse(result.body).Result.SegmentTask.Status).toBe(2);
        },
      ),
      { numRuns: Math.round(RUNS * 0.6), seed: SEED },
    );
  }, 600_000);

  it(`callback: ${Math.round(RUNS * 0.4)} malformed deliveries`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          callbackBody,
          body.map((b) => b ?? ''),
        ),
        method,
        headers,
        fc.boolean(),
        async (b, m, h, base64) => {
          const chosenMethod = m === 'GET' ? 'POST' : m;
          const result = await noThrow(() =>
            callback(apiEvent('/callbacks/volcengine', chosenMethod, '', { 'content-type': 'application/json', ...h }, b, base64)),
          );
          check(result, false, `${chosenMethod} callback ${b.slice(0, 80)}`);
        },
      ),
      { numRuns: Math.round(RUNS * 0.4), seed: SEED + 1 },
    );
  }, 600_000);
});
