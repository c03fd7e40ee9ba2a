/** The lookup function wired to a live emulator on loopback, as the tests drive it. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { lookupSettings, type LookupSettings } from '../../lib/config.ts';
import type { HttpResult } from '../../lib/http/http-function.ts';
import { buildLookup } from '../../lib/lookup/build.ts';
import { VolcEmulator, type EmulatorOptions } from '../emulator/volc-emulator.ts';
import type { S3TestServer } from '../s3/s3-server.ts';
import { startArchiveStack, type ArchiveStack } from './archive-stack.ts';
import { ManualClock } from './clock.ts';
import { STS_CREDENTIALS, TEST_CREDENTIALS } from './credentials.ts';
import { getTaskQuery, httpEvent, lambdaContext } from './http-events.ts';

export interface LookupStack {
  emulator: VolcEmulator;
  /** Present when started with `archive: true`: its S3-protocol server, and the whole archive stack (S3 and dynalite). */
  s3?: S3TestServer;
  archive?: ArchiveStack;
  clock: ManualClock;
  settings: LookupSettings;
  /** One invocation; `context` a Lambda context with 30 s left unless given. */
  invoke(event: Record<string, unknown>, context?: Context): Promise<HttpResult>;
  get(appId: string, roomId: string, taskId: string, version?: string): Promise<HttpResult & { json: any }>;
  stop(): Promise<void>;
}

export interface LookupStackOptions {
  env?: Record<string, string>;
  emulator?: Partial<EmulatorOptions>;
  /** Signing clock offset from the emulator's clock (ms), to simulate skew. */
  skewMs?: number;
  /** Start an S3-protocol server and dynalite, and give the lookup an archive on them. */
  archive?: boolean;
  /** Powertools log level; SILENT keeps test output readable. */
  logLevel?: 'DEBUG' | 'INFO' | 'SILENT';
}

export async function startLookupStack(options: LookupStackOptions = {}): Promise<LookupStack> {
  const clock = new ManualClock(Date.now());
  const emulator = new VolcEmulator({ credentials: [TEST_CREDENTIALS, STS_CREDENTIALS], now: clock.now, ...options.emulator });
  const endpoint = await emulator.start();
  const archive = options.archive ? await startArchiveStack('') : undefined;
  const settings = lookupSettings({
    ...archive?.env,
    VOLC_ENDPOINT: endpoint,
    VOLC_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    VOLC_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    VOLC_RETRY_BASE_MS: '20',
    VOLC_RETRY_MAX_MS: '200',
    LOOKUP_DEADLINE_MS: '2000',
    ...options.env,
  });
  const logger = new Logger({ serviceName: 'rtc-segment-tasks-test', logLevel: options.logLevel ?? 'SILENT' });
  const { handler } = buildLookup(settings, { logger, now: clock.now, client: { now: () => clock.now() + (options.skewMs ?? 0) } });
  const invoke = (event: Record<string, unknown>, context = lambdaContext()) => handler(event, context) as Promise<HttpResult>;
  return {
    emulator,
    ...(archive ? { s3: archive.s3, archive } : {}),
    clock,
    settings,
    invoke,
    async get(appId, roomId, taskId, version) {
      const result = await invoke(httpEvent(getTaskQuery(appId, roomId, taskId, version)));
      return { ...result, json: JSON.parse(result.body) };
    },
    async stop() {
      await emulator.stop();
      await archive?.stop();
    },
  };
}
