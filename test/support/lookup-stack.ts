/** The lookup function wired to a live emulator on loopback, as the tests drive it. */
import { Logger } from '@aws-lambda-powertools/logger';
import { LookupEnvSchema, loadEnv, type LookupEnv } from '../../lib/config.ts';
import type { HttpResult } from '../../lib/http/api-gateway.ts';
import { buildLookupHandler } from '../../lib/lookup/wiring.ts';
import { VolcEmulator, type EmulatorOptions } from '../emulator/volc-emulator.ts';
import { S3TestServer } from '../s3/s3-server.ts';
import { ManualClock } from './clock.ts';
import { STS_CREDENTIALS, TEST_CREDENTIALS } from './credentials.ts';
import { getTaskQuery, httpEvent, lambdaContext } from './http-events.ts';

export interface LookupStack {
  emulator: VolcEmulator;
  /** Present when started with `archive: true`. */
  s3?: S3TestServer;
  clock: ManualClock;
  env: LookupEnv;
  invoke(event: Record<string, unknown>): Promise<HttpResult>;
  get(appId: string, roomId: string, taskId: string, version?: string): Promise<HttpResult & { json: any }>;
  stop(): Promise<void>;
}

export interface LookupStackOptions {
  env?: Record<string, string>;
  emulator?: Partial<EmulatorOptions>;
  /** Signing clock offset from the emulator's clock (ms), to simulate skew. */
  skewMs?: number;
  /** Start an S3-protocol server and give the lookup an archive on it. */
  archive?: boolean;
  /** Powertools log level; SILENT keeps test output readable. */
  logLevel?: 'DEBUG' | 'INFO' | 'SILENT';
}

export async function startLookupStack(options: LookupStackOptions = {}): Promise<LookupStack> {
  const clock = new ManualClock(Date.now());
  const emulator = new VolcEmulator({ credentials: [TEST_CREDENTIALS, STS_CREDENTIALS], now: clock.now, ...options.emulator });
  const endpoint = await emulator.start();
  const s3 = options.archive ? new S3TestServer() : undefined;
  if (s3) {
    await s3.start();
  }
  const archiveEnv = s3 ? s3.clientEnv() : {};
  delete archiveEnv.AWS_ACCESS_KEY_ID;
  delete archiveEnv.AWS_SECRET_ACCESS_KEY;
  const env = loadEnv(LookupEnvSchema, {
    ...archiveEnv,
    VOLC_ENDPOINT: endpoint,
    VOLC_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    VOLC_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    VOLC_RETRY_BASE_MS: '20',
    VOLC_RETRY_MAX_MS: '200',
    LOOKUP_DEADLINE_MS: '2000',
    ...options.env,
  });
  const logger = new Logger({ serviceName: 'rtc-segment-tasks-test', logLevel: options.logLevel ?? 'SILENT' });
  const handler = buildLookupHandler(env, logger, { now: clock.now, clientOverrides: { now: () => clock.now() + (options.skewMs ?? 0) } });
  const invoke = (event: Record<string, unknown>) => handler(event, lambdaContext()) as Promise<HttpResult>;
  return {
    emulator,
    ...(s3 ? { s3 } : {}),
    clock,
    env,
    invoke,
    async get(appId, roomId, taskId, version) {
      const result = await invoke(httpEvent(getTaskQuery(appId, roomId, taskId, version)));
      return { ...result, json: JSON.parse(result.body) };
    },
    async stop() {
      await emulator.stop();
      await s3?.stop();
    },
  };
}
