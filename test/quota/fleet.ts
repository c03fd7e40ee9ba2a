/** What the fleet test and the quota bench share: lookup instances in processes, tasks near their deadline for the archiver. */
import { spawn } from 'node:child_process';
import type { ArchiveRunSummary } from '../../lib/archive/archiver.ts';
import { buildArchiver } from '../../lib/archive/build.ts';
import type { SegmentArchive } from '../../lib/archive/segment-archive.ts';
import type { WatchRegistry } from '../../lib/archive/registry.ts';
import { archiverSettings } from '../../lib/config.ts';
import type { QuotaStats } from '../../lib/quota/fleet-limiter.ts';
import { buildUpstream } from '../../lib/volc/build-upstream.ts';
import type { VolcClient } from '../../lib/volc/client.ts';
import { WINDOW_MS } from '../../lib/volc/schemas.ts';
import type { EmulatorProcess } from '../emulator/emulator-process.ts';
import { QUOTA_TABLE, REGISTRY_TABLE } from '../dynamodb/dynalite-server.ts';
import { TEST_CREDENTIALS } from '../support/credentials.ts';

export interface InstancesResult {
  statuses: Record<string, number>;
  retryAfterMissing: number;
  /** The quota's counters over the measured time, summed over the process's instances. */
  quota: Partial<QuotaStats>;
}

export interface InstancesOptions {
  emulatorUrl: string;
  dynamodbUrl: string;
  tasks: string[];
  durationMs: number;
  instances: number;
  /** Open loop: requests per second per instance; unset: closed loop. */
  rate?: number;
  env?: Record<string, string>;
}

/** One process of lookup instances: ready once every instance is loaded and warm, measured from the start it is given. */
export interface InstancesProcess {
  ready: Promise<void>;
  begin(start: number): void;
  result: Promise<InstancesResult>;
}

/** One process of lookup instances (test/quota/lookup-instances.ts); its result holds its status counts. */
export function lookupInstances(options: InstancesOptions): InstancesProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/quota/lookup-instances.ts'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...process.env,
      VOLC_ENDPOINT: options.emulatorUrl,
      VOLC_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      VOLC_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      QUOTA_TABLE,
      DYNAMODB_ENDPOINT: options.dynamodbUrl,
      LOOKUP_TERMINAL_TTL_MS: '0',
      QUOTA_TASKS: options.tasks.join(','),
      QUOTA_MS: String(options.durationMs),
      QUOTA_INSTANCES: String(options.instances),
      ...(options.rate === undefined ? {} : { QUOTA_RATE: String(options.rate) }),
      ...options.env,
    },
  });
  let output = '';
  let signalReady: () => void;
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  child.stdout.on('data', (chunk) => {
    output += chunk;
    if (output.includes('READY\n')) signalReady();
  });
  const result = new Promise<InstancesResult>((resolve, reject) =>
    child.on('exit', (code) => {
      const match = /RESULT (.*)/.exec(output);
      return code === 0 && match ? resolve(JSON.parse(match[1]!)) : reject(new Error(`lookup instances exited ${code}`));
    }),
  );
  return { ready: Promise.race([ready, result.then(() => undefined)]), begin: (start) => child.stdin.end(`START ${start}\n`), result };
}

/**
 * Starts processes of lookup instances together once all are loaded, however long loading takes on
 * this machine: the measured time begins `leadMs` after the last is ready. Answers the start.
 */
export async function startTogether(processes: InstancesProcess[], leadMs = 500): Promise<number> {
  await Promise.all(processes.map((p) => p.ready));
  const start = Date.now() + leadMs;
  for (const p of processes) p.begin(start);
  return start;
}

/** Running tasks for the lookups to ask about; answers their ids. */
export async function seedLiveTasks(emulator: EmulatorProcess, count: number): Promise<string[]> {
  return (await emulator.seed(Array.from({ length: count }, (_, i) => ({ appId: 'quota-app', roomId: 'room', taskId: `live-${i}` })))).map(
    (t) => t.taskId,
  );
}

/** Running tasks 20 minutes before their window closes, watched: each archiver poll of them is a deadline poll. */
export async function seedClosingTasks(emulator: EmulatorProcess, registry: WatchRegistry, count: number): Promise<void> {
  const startTime = Date.now() - WINDOW_MS + 20 * 60_000;
  const closing = Array.from({ length: count }, (_, i) => ({ appId: 'quota-app', roomId: 'closing', taskId: `closing-${i}` }));
  await emulator.seed(closing.map((address) => ({ ...address, startTime, maxIdleTime: 86_400 })));
  for (const address of closing) await registry.registerRun(address, startTime, 'lookup', Date.now());
}

/** The archive function's settings from `env` (its stores are the caller's: the bucket is named only because the settings need one). */
const archiverSettingsOf = (env: Record<string, string | number>) =>
  archiverSettings({
    VOLC_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    VOLC_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    ARCHIVE_BUCKET: 'fleet-archive',
    REGISTRY_TABLE,
    ...Object.fromEntries(Object.entries(env).map(([name, value]) => [name, String(value)])),
  });

/** The archiver's Volcengine client on the shared quota, wired as the archive function wires it; `quota`: variables over the test's. */
export function archiverUpstream(emulatorUrl: string, dynamodbUrl: string, quota: Record<string, number | string> = {}): VolcClient {
  const settings = archiverSettingsOf({
    VOLC_ENDPOINT: emulatorUrl,
    QUOTA_TABLE,
    DYNAMODB_ENDPOINT: dynamodbUrl,
    QUOTA_TIMEOUT_MS: 500,
    VOLC_RETRY_BASE_MS: 50,
    VOLC_RETRY_MAX_MS: 200,
    ...quota,
  });
  return buildUpstream(settings, 'archiver').client;
}

/** One archiver run over `archive`'s registry through `upstream`, for at most timeLeftMs. */
export function runArchiverOn(
  archive: { registry: WatchRegistry; archive: SegmentArchive },
  upstream: VolcClient,
  timeLeftMs: () => number,
): Promise<ArchiveRunSummary> {
  const { run } = buildArchiver(archiverSettingsOf({}), { upstream, access: { registry: archive.registry, archive: archive.archive } });
  return run({ tick: Date.now(), owner: `fleet-${process.pid}`, timeLeftMs, safetyMs: 0 });
}
