/**
 * The packaged zips boot: each function's zip from .serverless/ (npm run package) is unzipped into
 * a directory of its own where the only package reachable is the AWS SDK v3 that the nodejs22.x
 * runtime provides, its handler (as the template names it) is imported in a fresh process with the
 * template's environment, and invoked with fixture events against the emulator, the S3 server,
 * the SSM peer, dynalite and the EventBridge peer.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynaliteServer, QUOTA_TABLE, REGISTRY_TABLE } from '../dynamodb/dynalite-server.ts';
import { VolcEmulator } from '../emulator/volc-emulator.ts';
import { S3TestServer } from '../s3/s3-server.ts';
import { SsmTestServer } from '../ssm/ssm-server.ts';
import { EventBridgeTestServer } from '../eventbridge/eventbridge-server.ts';
import { TEST_CREDENTIALS } from '../support/credentials.ts';
import { httpEvent } from '../support/http-events.ts';

const TEMPLATE = '.serverless/cloudformation-template-update-stack.json';
const CALLBACK_SECRET = 'boot-callback-secret-7e1f';
const template = JSON.parse(readFileSync(TEMPLATE, 'utf8')) as {
  Resources: Record<string, { Type: string; Properties: Record<string, any> }>;
};
const scheduled = JSON.parse(readFileSync(new URL('../fixtures/events/scheduled-event.json', import.meta.url), 'utf8'));

let emulator: VolcEmulator;
let s3: S3TestServer;
let ssm: SsmTestServer;
let ssmUrl: string;
let dynalite: DynaliteServer;
let eventBridge: EventBridgeTestServer;
const work = mkdtempSync(join(tmpdir(), 'rtc-boot-'));

beforeAll(async () => {
  emulator = new VolcEmulator({ credentials: [TEST_CREDENTIALS] });
  await emulator.start();
  s3 = new S3TestServer();
  await s3.start();
  ssm = new SsmTestServer();
  ssmUrl = await ssm.start();
  dynalite = new DynaliteServer();
  await dynalite.start();
  eventBridge = new EventBridgeTestServer();
  await eventBridge.start();
});
afterAll(async () => {
  await Promise.all([emulator.stop(), s3.stop(), ssm.stop(), dynalite.stop(), eventBridge.stop()]);
  rmSync(work, { recursive: true, force: true });
});

/** The template's value for an environment variable, with the stack's own resources resolved to the test peers. */
function resolveValue(value: unknown): string {
  if (typeof value === 'string') return value;
  const ref = (value as { Ref?: string }).Ref;
  if (ref === 'ArchiveBucket') return s3.bucket;
  if (ref === 'QuotaTable') return QUOTA_TABLE;
  if (ref === 'RegistryTable') return REGISTRY_TABLE;
  if (ref === 'CallbackEventBus') return template.Resources.CallbackEventBus!.Properties.Name as string;
  throw new Error(`unresolved template value ${JSON.stringify(value)}`);
}

/** Unzips a function's package where only the runtime's AWS SDK is reachable; answers its handler file and export. */
function unpack(name: string): { file: string; exportName: string; environment: Record<string, string> } {
  const fn = template.Resources[`${name[0]!.toUpperCase()}${name.slice(1)}LambdaFunction`]!.Properties;
  const dir = join(work, name);
  for (const [path, bytes] of Object.entries(unzipSync(readFileSync(`.serverless/${name}.zip`)))) {
    if (path.endsWith('/')) continue;
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), bytes);
  }
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(resolve('node_modules/@aws-sdk'), join(dir, 'node_modules/@aws-sdk'), 'dir'); // what nodejs22.x provides
  const [module, exportName] = [fn.Handler.slice(0, fn.Handler.lastIndexOf('.')), fn.Handler.slice(fn.Handler.lastIndexOf('.') + 1)];
  const environment = Object.fromEntries(
    Object.entries(fn.Environment.Variables as Record<string, unknown>).map(([k, v]) => [k, resolveValue(v)]),
  );
  return { file: join(dir, `${module}.mjs`), exportName, environment };
}

function boot(name: string, events: unknown[]): Promise<{ results?: any[]; error?: string }> {
  const { file, exportName, environment } = unpack(name);
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/deploy/boot-child.ts'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      ...environment,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'boot',
      AWS_SECRET_ACCESS_KEY: 'boot',
      S3_ENDPOINT: s3.url,
      S3_FORCE_PATH_STYLE: 'true',
      VOLC_ENDPOINT: emulator.url,
      SSM_ENDPOINT: ssmUrl,
      DYNAMODB_ENDPOINT: dynalite.url,
      EVENTS_ENDPOINT: eventBridge.url,
      // This machine's dynalite, one busy process beside the suites, can take far longer than DynamoDB to answer a
      // fresh process's first quota call: with the deployed 250 ms wait the first lookup may get 429 (booting is what
      // this test checks; the quota's timing is the fleet test's).
      LOOKUP_QUOTA_WAIT_MS: '3000',
      QUOTA_TIMEOUT_MS: '3000',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      IAM_RECORD_FUNCTION: name,
      BOOT_HANDLER_FILE: file,
      BOOT_HANDLER_EXPORT: exportName,
      BOOT_EVENTS: JSON.stringify(events),
    },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return new Promise((done, fail) =>
    child.on('exit', () => {
      const match = /RESULT (.*)/.exec(output);
      return match ? done(JSON.parse(match[1]!)) : fail(new Error(`no result from ${name}: ${output.slice(-2000)}`));
    }),
  );
}

const lookupQuery = (action: string, extra: Record<string, string> = {}): Array<[string, string]> => [
  ['Action', action],
  ['Version', '2023-11-01'],
  ['AppId', 'boot-app'],
  ['RoomId', 'room'],
  ...Object.entries(extra),
];

describe('the packaged functions boot as Lambda boots them', () => {
  it('packages each function without anything but its own code (the AWS SDK comes from the runtime)', () => {
    for (const name of ['lookup', 'callback', 'archive']) {
      expect(existsSync(`.serverless/${name}.zip`)).toBe(true);
      const paths = Object.keys(unzipSync(readFileSync(`.serverless/${name}.zip`)));
      expect(paths.some((p) => p.includes('node_modules/'))).toBe(false);
      expect(paths).toContain(`dist/${name}/${name}.mjs`);
    }
  });

  it('lookup, callback and archive answer fixture events from their unzipped packages', async () => {
    ssm.parameters.set(
      '/rtc-segment-tasks/ci/volc-credentials',
      JSON.stringify({ AccessKeyId: TEST_CREDENTIALS.accessKeyId, SecretAccessKey: TEST_CREDENTIALS.secretAccessKey }),
    );
    ssm.parameters.set('/rtc-segment-tasks/ci/callback-secrets', JSON.stringify({ 'boot-app': CALLBACK_SECRET }));
    const looked = emulator.seedTask({ appId: 'boot-app', roomId: 'room', taskId: 'looked-up' });
    const reported = emulator.seedTask({ appId: 'boot-app', roomId: 'room', taskId: 'reported' });
    emulator.withoutTaskId = 'task-list'; // one plausible form of Volcengine's unconfirmed answer without TaskId

    const lookup = await boot('lookup', [
      httpEvent(lookupQuery('GetSegmentTask', { TaskId: 'looked-up' })),
      httpEvent(lookupQuery('GetSegmentTask', { TaskId: 'unknown' })),
      httpEvent(lookupQuery('WatchSegmentTask', { TaskId: 'watched' })),
      httpEvent(lookupQuery('ListArchivedSegmentTasks')),
      httpEvent(lookupQuery('GetSegmentTask', { TaskId: 'looked-up' }), { method: 'POST' }),
      httpEvent(lookupQuery('GetSegmentTask')), // without TaskId: Volcengine's answer passed on, nothing registered
    ]);
    const body = JSON.stringify(emulator.segmentEvent(reported, CALLBACK_SECRET));
    const callback = await boot('callback', [
      httpEvent('', { method: 'POST', path: '/callbacks/volcengine', body, headers: { 'content-type': 'application/json' } }),
    ]);
    const archive = await boot('archive', [scheduled]);

    expect(lookup.error).toBeUndefined();
    expect(lookup.results!.map((r) => r.statusCode)).toEqual([200, 404, 200, 200, 405, 200]);
    expect(JSON.parse(lookup.results![0].body).Result.SegmentTask.StartTime).toBe(looked.startTime);
    const listed = JSON.parse(lookup.results![5].body).Result.SegmentTasks as Array<{ TaskId: string }>;
    expect(listed.map((task) => task.TaskId).sort()).toEqual(['looked-up', 'reported']);
    expect(callback.error).toBeUndefined();
    expect([callback.results![0].statusCode, JSON.parse(callback.results![0].body).Result.Outcome]).toEqual([200, 'registered']);
    // Published to the bus the template names, through the runtime's EventBridge client; nothing written to S3 by the callback.
    expect(eventBridge.published.map((entry) => [entry.EventBusName, entry.DetailType, entry.Detail.EventId])).toEqual([
      ['rtc-segment-tasks-ci-callbacks', 'SegmentRealTimeData', JSON.parse(body).EventId],
    ]);
    expect(archive.error).toBeUndefined();
    // The lookup registered a running task (and archived what it saw), the watch an unknown one, the callback a
    // reported one: all three polled, and only the callback's is new to the archive.
    expect(archive.results![0]).toMatchObject({ tasksPolled: 3, snapshotsWritten: 1, errors: 0 });
  }, 120_000);
});
