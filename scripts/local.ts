/**
 * Local stack: the built lookup function (dist/lookup/lookup.mjs) behind an API-Gateway-shaped HTTP
 * server on 127.0.0.1:$PORT (default 3000).
 *
 * Without VOLC_ACCESS_KEY_ID / VOLC_SECRET_ACCESS_KEY it starts the Volcengine RTC emulator and
 * seeds a running demo task (demo-app / demo-room / demo-task); with them it talks to Volcengine
 * (VOLC_ENDPOINT, VOLC_SESSION_TOKEN optional). The archive lives in a local S3-protocol server
 * whose data is kept in .local-data/s3 across restarts; `npm run archive:once` runs the archiver
 * against this stack (it finds it through .local-data/stack.json). Verified callbacks are published
 * to a local EventBridge-protocol peer, which prints each entry it accepted. Ctrl-C stops everything it started.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { Context } from 'aws-lambda';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { VolcEmulator } from '../test/emulator/volc-emulator.ts';
import { S3TestServer } from '../test/s3/s3-server.ts';
import { DynaliteServer, QUOTA_TABLE, REGISTRY_TABLE } from '../test/dynamodb/dynalite-server.ts';
import { EventBridgeTestServer } from '../test/eventbridge/eventbridge-server.ts';

type Handler = (event: unknown, context: Context) => Promise<{ statusCode: number; headers?: Record<string, string>; body?: string }>;

const DEMO_CREDENTIALS = { accessKeyId: 'AKLTLOCALDEMOACCESSKEY', secretAccessKey: 'local-demo-secret-not-a-real-key' };
const DEMO_CALLBACK_SECRETS = { 'demo-app': 'demo-callback-secret' };
let demoEmulator: VolcEmulator | undefined;
const port = Number(process.env.PORT ?? 3000);
const host = '127.0.0.1';
const stops: Array<() => Promise<void>> = [];
export const LOCAL_DATA = process.env.LOCAL_DATA_DIR ?? '.local-data';
export const STACK_FILE = `${LOCAL_DATA}/stack.json`;

async function startLocalArchive(): Promise<string> {
  mkdirSync(`${LOCAL_DATA}/s3`, { recursive: true });
  const s3 = new S3TestServer({ dataDir: resolve(LOCAL_DATA, 's3'), port: Number(process.env.S3_PORT ?? 0) });
  await s3.start();
  stops.push(() => s3.stop());
  for (const [name, value] of Object.entries(s3.clientEnv())) process.env[name] ??= value;
  return s3.url;
}

/**
 * The shared quota (QUOTA_TABLE) and the watch registry (REGISTRY_TABLE) in dynalite (the DynamoDB
 * protocol), kept in .local-data/dynamodb across restarts like the bucket: what is watched lives there.
 */
async function startTables(): Promise<string> {
  mkdirSync(`${LOCAL_DATA}/dynamodb`, { recursive: true });
  const dynalite = new DynaliteServer({ path: resolve(LOCAL_DATA, 'dynamodb') });
  const url = await dynalite.start(Number(process.env.DYNAMODB_PORT ?? 0));
  stops.push(() => dynalite.stop());
  process.env.QUOTA_TABLE ??= QUOTA_TABLE;
  process.env.REGISTRY_TABLE ??= REGISTRY_TABLE;
  process.env.DYNAMODB_ENDPOINT ??= url;
  return url;
}

/** The callback's event bus: an EventBridge-protocol peer on loopback that prints each entry published to it. */
async function startEventBus(): Promise<string> {
  const bus = new EventBridgeTestServer();
  const url = await bus.start(Number(process.env.EVENTS_PORT ?? 0));
  stops.push(() => bus.stop());
  bus.onPublish = (entry) =>
    console.log(
      `event bus ${entry.EventBusName}: ${entry.Source} ${entry.DetailType} ` +
        `EventId=${String(entry.Detail.EventId)} Matched=${String(entry.Detail.Matched)} EventData=${String(entry.Detail.EventData)}`,
    );
  process.env.EVENT_BUS_NAME ??= 'rtc-segment-tasks-local-callbacks';
  process.env.EVENTS_ENDPOINT ??= url;
  return url;
}

async function startEmulatorIfNeeded(): Promise<string> {
  if (process.env.VOLC_ACCESS_KEY_ID && process.env.VOLC_SECRET_ACCESS_KEY) {
    return `Volcengine at ${process.env.VOLC_ENDPOINT ?? 'https://rtc.volcengineapi.com'} (your credentials)`;
  }
  const emulator = new VolcEmulator({ credentials: [DEMO_CREDENTIALS] });
  const url = await emulator.start(Number(process.env.EMULATOR_PORT ?? 0));
  emulator.seedTask({ appId: 'demo-app', roomId: 'demo-room', taskId: 'demo-task', identifier: 'demo-room-audit', duration: 20 });
  stops.push(() => emulator.stop());
  demoEmulator = emulator;
  process.env.VOLC_ENDPOINT = url;
  process.env.VOLC_ACCESS_KEY_ID = DEMO_CREDENTIALS.accessKeyId;
  process.env.VOLC_SECRET_ACCESS_KEY = DEMO_CREDENTIALS.secretAccessKey;
  return `the Volcengine RTC emulator at ${url} (demo task demo-app/demo-room/demo-task, running)`;
}

async function loadFunction(name: string): Promise<Handler> {
  const module = (await import(pathToFileURL(resolve('dist', name, `${name}.mjs`)).href)) as { handler: Handler };
  return module.handler;
}

/** Builds an API Gateway HTTP API payload 2.0 event from a plain HTTP request. */
async function toHttpApiEvent(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const url = new URL(req.url ?? '/', `http://${host}:${port}`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  const method = req.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: `${method} ${url.pathname}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: `${host}:${port}`,
      http: {
        method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: req.socket.remoteAddress ?? host,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: `${method} ${url.pathname}`,
      stage: '$default',
      timeEpoch: Date.now(),
    },
    ...(body.length ? { body: body.toString('utf8') } : {}),
    isBase64Encoded: false,
  };
}

function lambdaContext(functionName: string): Context {
  const deadline = Date.now() + 30_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done() {},
    fail() {},
    succeed() {},
  };
}

async function main(): Promise<void> {
  const upstream = await startEmulatorIfNeeded();
  const s3Url = await startLocalArchive();
  const tablesUrl = await startTables();
  const busUrl = await startEventBus();
  process.env.CALLBACK_SECRETS ??= JSON.stringify(DEMO_CALLBACK_SECRETS);
  const lookup = await loadFunction('lookup');
  const routes: Record<string, { name: string; handler: Handler }> = {
    'GET /': { name: 'lookup', handler: lookup },
    'POST /callbacks/volcengine': { name: 'callback', handler: await loadFunction('callback') },
  };

  const server = createServer((req, res: ServerResponse) => {
    void (async () => {
      const event = await toHttpApiEvent(req);
      if (req.method === 'GET' && event.rawPath === '/openapi.json') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(readFileSync(resolve('dist', 'openapi.json')));
        return;
      }
      const route = routes[`${req.method} ${(event.rawPath as string) || '/'}`];
      if (!route) {
        res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"Not Found"}');
        return;
      }
      const result = await route.handler(event, lambdaContext(route.name));
      res.writeHead(result.statusCode, result.headers ?? {}).end(result.body ?? '');
    })().catch(() => {
      res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"message":"Internal Server Error"}');
    });
  });
  await new Promise<void>((done) => server.listen(port, host, done));
  stops.push(() => new Promise<void>((done) => server.close(() => done())));

  const base = `http://${host}:${(server.address() as AddressInfo).port}`;
  const stackEnv = Object.fromEntries(
    [
      'VOLC_ENDPOINT',
      'VOLC_ACCESS_KEY_ID',
      'VOLC_SECRET_ACCESS_KEY',
      'VOLC_SESSION_TOKEN',
      'ARCHIVE_BUCKET',
      'S3_ENDPOINT',
      'S3_REGION',
      'S3_FORCE_PATH_STYLE',
      'QUOTA_TABLE',
      'REGISTRY_TABLE',
      'DYNAMODB_ENDPOINT',
    ]
      .filter((name) => process.env[name] !== undefined && !(upstream.includes('your credentials') && name.startsWith('VOLC_')))
      .map((name) => [name, process.env[name]]),
  );
  writeFileSync(STACK_FILE, JSON.stringify({ url: base, env: stackEnv }, null, 2), { mode: 0o600 });
  stops.push(async () => rmSync(STACK_FILE, { force: true }));
  console.log(`rtc-segment-tasks local stack on ${base}, answering from ${upstream}`);
  console.log(
    `Tables: the quota (${process.env.QUOTA_TABLE}) and the watch registry (${process.env.REGISTRY_TABLE}) in dynalite at ${tablesUrl}, ` +
      `data in ${LOCAL_DATA}/dynamodb`,
  );
  console.log(
    `Archive: local S3-protocol server at ${s3Url}, bucket ${process.env.ARCHIVE_BUCKET}, data in ${LOCAL_DATA}/s3 ` +
      '(npm run archive:once runs the archiver)',
  );
  console.log(
    `Event bus: ${process.env.EVENT_BUS_NAME}, an EventBridge-protocol peer at ${busUrl}; every verified callback ` +
      'published to it is printed here',
  );
  console.log(`OpenAPI document: ${base}/openapi.json`);
  console.log(`Try:\n  curl '${base}/?Action=GetSegmentTask&Version=2023-11-01&AppId=demo-app&RoomId=demo-room&TaskId=demo-task'`);
  if (demoEmulator) {
    // Like Volcengine, the emulator reports every produced segment (each Duration, 20 s) to the callback URL.
    const emulator = demoEmulator;
    let sequence = 0;
    const send = () =>
      void emulator.sendSegmentEvents(`${base}/callbacks/volcengine`, DEMO_CALLBACK_SECRETS, sequence++).catch(() => undefined);
    const timer = setInterval(send, Number(process.env.DEMO_SEGMENT_INTERVAL_MS ?? 20_000));
    stops.push(async () => clearInterval(timer));
    send();
    console.log(
      `Callbacks: POST ${base}/callbacks/volcengine (SecretKey for demo-app: demo-callback-secret); the emulator sends one per segment`,
    );
  }
  console.log('Ctrl-C stops it.');
}

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());

main().catch((error: unknown) => {
  console.error(`local stack failed to start: ${error instanceof Error ? error.message : String(error)}`);
  void shutdown().then(() => process.exit(1));
});
