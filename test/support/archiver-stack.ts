/** Emulator + S3 test server + archiver, all on one controllable clock. */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { cutBy } from '../../lib/archive/access.ts';
import type { ArchiveAccess } from '../../lib/archive/access.ts';
import type { ArchiveRunSummary, ArchiverOptions } from '../../lib/archive/archiver.ts';
import { buildArchiver, type Archiver } from '../../lib/archive/build.ts';
import { DynamoDbRegistry } from '../../lib/archive/dynamodb-registry.ts';
import { S3ObjectStore } from '../../lib/archive/object-store.ts';
import type { WatchRegistry } from '../../lib/archive/registry.ts';
import { SegmentArchive } from '../../lib/archive/segment-archive.ts';
import { archiverSettings } from '../../lib/config.ts';
import { TokenBucket } from '../../lib/volc/client.ts';
import type { TaskAddress } from '../../lib/volc/schemas.ts';
import { REGISTRY_TABLE } from '../dynamodb/dynalite-server.ts';
import { VolcEmulator, type EmulatorOptions } from '../emulator/volc-emulator.ts';
import { startArchiveStack, type ArchiveStack } from './archive-stack.ts';
import { HOUR, ManualClock } from './clock.ts';
import { TEST_CREDENTIALS } from './credentials.ts';

export interface ArchiverStack extends ArchiveStack {
  emulator: VolcEmulator;
  clock: ManualClock;
  /**
   * One archiver run on the stack's clock. Each run serves a schedule tick of its own (the clock's
   * time, or a millisecond past the last run's): pass `tick` to run a duplicate delivery of one.
   */
  run(overrides?: Partial<ArchiverOptions>): Promise<ArchiveRunSummary>;
  /**
   * The archiver function over the stack, with the function's settings from its environment plus `env`, on the stack's
   * stores (or `parts.access`).
   */
  archiver(env?: Record<string, string>, parts?: { logger?: Logger; metrics?: Metrics; access?: ArchiveAccess<WatchRegistry> }): Archiver;
  /**
   * The stack's bucket and registry as the archiver function opens them: clients of their own, each attempt limited to
   * `requestTimeoutMs` (the SDK's 5 s unless given), whose requests a run's deadline cuts (`within`).
   */
  stores(options?: { requestTimeoutMs?: number }): ArchiveAccess<WatchRegistry>;
  watch(address: TaskAddress, startTime?: number): Promise<void>;
}

export async function startArchiverStack(
  options: {
    emulator?: Partial<EmulatorOptions>;
    qps?: number;
    burst?: number;
    registryPageSize?: number;
    refreshMs?: number;
    /** ARCHIVE_NO_REUSE_REFRESH_MS (unset, as deployed, unless given: every app's runs are refreshed alike). */
    noReuseRefreshMs?: number;
  } = {},
): Promise<ArchiverStack> {
  // A fixed instant close to the real one: request signatures carry the clock, the emulator checks skew against the same clock.
  const clock = new ManualClock(Math.floor(Date.now() / HOUR) * HOUR);
  const emulator = new VolcEmulator({ credentials: [TEST_CREDENTIALS], now: clock.now, ...options.emulator });
  const endpoint = await emulator.start();
  const archiveStack = await startArchiveStack(undefined, { registryPageSize: options.registryPageSize });
  // Calls paced by the test (the emulator's own limit applies), retried quickly.
  const limiter = new TokenBucket({ ratePerSecond: options.qps ?? 1000, burst: options.burst ?? 50 });
  // The stack's own clients, and views of them whose requests a run's deadline cuts, as the function's stores have.
  const { archive, registry, s3, dynamodb, keys } = archiveStack;
  const ownStores: ArchiveAccess<WatchRegistry> = {
    archive,
    registry,
    within: (signal) => ({ archive: new SegmentArchive(cutBy(archive.store, signal), keys), registry: cutBy(registry, signal) }),
  };
  const stores: ArchiverStack['stores'] = ({ requestTimeoutMs } = {}) => {
    const bounds = { region: 'us-east-1', ...(requestTimeoutMs ? { requestTimeoutMs } : {}) };
    const store = new S3ObjectStore({ bucket: s3.bucket, endpoint: s3.url, forcePathStyle: true, ...bounds });
    const own = new DynamoDbRegistry({ table: REGISTRY_TABLE, endpoint: dynamodb.url, ...bounds });
    return {
      archive: new SegmentArchive(store, keys),
      registry: own,
      within: (signal) => ({ archive: new SegmentArchive(cutBy(store, signal), keys), registry: cutBy(own, signal) }),
    };
  };
  const archiver: ArchiverStack['archiver'] = (env = {}, parts = {}) =>
    buildArchiver(
      archiverSettings({
        ...archiveStack.env,
        VOLC_ENDPOINT: endpoint,
        VOLC_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
        VOLC_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        VOLC_RETRY_BASE_MS: '10',
        VOLC_RETRY_MAX_MS: '50',
        // The deployed defaults otherwise: a few runs are asked about on every run (5 minutes); ARCHIVE_QPS 12, half for refreshes.
        ...(options.refreshMs ? { ARCHIVE_REFRESH_MS: String(options.refreshMs) } : {}),
        ...(options.noReuseRefreshMs ? { ARCHIVE_NO_REUSE_REFRESH_MS: String(options.noReuseRefreshMs) } : {}),
        ...env,
      }),
      { logger: parts.logger, metrics: parts.metrics, limiter, now: clock.now, access: parts.access ?? ownStores },
    );
  // The tests' runs: no time limit, and each call may take 2 s.
  const { run } = archiver({ ARCHIVE_CALL_TIMEOUT_MS: '2000' });
  let lastTick = Number.NEGATIVE_INFINITY;
  let runs = 0;
  const nextTick = () => (lastTick = Math.max(clock.now(), lastTick + 1));
  return {
    ...archiveStack,
    emulator,
    clock,
    archiver,
    stores,
    run: (overrides = {}) =>
      run({
        tick: overrides.tick ?? nextTick(),
        owner: `test-run-${++runs}`,
        timeLeftMs: () => Number.POSITIVE_INFINITY,
        safetyMs: 0,
        ...overrides,
      }),
    watch: async (address, startTime) => {
      const { registry } = archiveStack;
      if (startTime === undefined) await registry.registerPending(address, 'watch', clock.now());
      else await registry.registerRun(address, startTime, 'watch', clock.now());
    },
    async stop() {
      await emulator.stop();
      await archiveStack.stop();
    },
  };
}
