/** Emulator + S3 test server + archiver, all on one controllable clock. */
import { runArchiver, type ArchiveRunSummary, type ArchiverOptions } from '../../lib/archive/archiver.ts';
import { VolcClient } from '../../lib/volc/client.ts';
import { TokenBucket } from '../../lib/volc/rate-limiter.ts';
import type { TaskAddress } from '../../lib/task.ts';
import { VolcEmulator, type EmulatorOptions } from '../emulator/volc-emulator.ts';
import { startArchiveStack, type ArchiveStack } from './archive-stack.ts';
import { HOUR, ManualClock } from './clock.ts';
import { TEST_CREDENTIALS } from './credentials.ts';

export interface ArchiverStack extends ArchiveStack {
  emulator: VolcEmulator;
  clock: ManualClock;
  client: VolcClient;
  /**
   * One archiver run on the stack's clock. Each run serves a schedule tick of its own (the clock's
   * time, or a millisecond past the last run's): pass `tick` to run a duplicate delivery of one.
   */
  run(overrides?: Partial<ArchiverOptions>): Promise<ArchiveRunSummary>;
  watch(address: TaskAddress, startTime?: number): Promise<void>;
}

export async function startArchiverStack(
  options: { emulator?: Partial<EmulatorOptions>; qps?: number; burst?: number; registryPageSize?: number; refreshMs?: number } = {},
): Promise<ArchiverStack> {
  // A fixed instant close to the real one: request signatures carry the clock, the emulator checks skew against the same clock.
  const clock = new ManualClock(Math.floor(Date.now() / HOUR) * HOUR);
  const emulator = new VolcEmulator({ credentials: [TEST_CREDENTIALS], now: clock.now, ...options.emulator });
  const endpoint = await emulator.start();
  const archiveStack = await startArchiveStack(undefined, { registryPageSize: options.registryPageSize });
  const client = new VolcClient({
    endpoint,
    region: 'cn-north-1',
    service: 'rtc',
    credentials: () => TEST_CREDENTIALS,
    limiter: new TokenBucket({ ratePerSecond: options.qps ?? 1000, burst: options.burst ?? 50 }),
    retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
    now: clock.now,
  });
  let lastTick = Number.NEGATIVE_INFINITY;
  let runs = 0;
  const nextTick = () => (lastTick = Math.max(clock.now(), lastTick + 1));
  return {
    ...archiveStack,
    emulator,
    clock,
    client,
    run: (overrides = {}) =>
      runArchiver({
        registry: archiveStack.registry,
        archive: archiveStack.archive,
        upstream: client,
        version: '2023-11-01',
        now: clock.now,
        tick: overrides.tick ?? nextTick(),
        owner: `test-run-${++runs}`,
        finalMarginMs: 30 * 60_000,
        callTimeoutMs: 2_000,
        concurrency: 8,
        timeLeftMs: () => Number.POSITIVE_INFINITY,
        safetyMs: 0,
        unknownRetryMs: 15 * 60_000,
        // The deployed defaults: a few runs are asked about on every run (5 minutes); ARCHIVE_QPS 12, half for refreshes.
        refreshMs: options.refreshMs ?? 5 * 60_000,
        refreshCallsPerSecond: 6,
        idleMarginMs: 2 * 60_000,
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
