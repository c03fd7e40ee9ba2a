/**
 * Late is not sent: the client against the emulator over loopback, its event loop blocked past a
 * slot just before the call was due to leave.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VolcClient } from '../../../lib/volc/client.ts';
import { TokenBucket, type RateLimiter } from '../../../lib/volc/rate-limiter.ts';
import { VolcEmulator } from '../../emulator/volc-emulator.ts';
import { TEST_CREDENTIALS } from '../../support/credentials.ts';

let emulator: VolcEmulator;
beforeAll(async () => {
  emulator = new VolcEmulator({ credentials: [TEST_CREDENTIALS] });
  await emulator.start();
  emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'task' });
});
afterAll(() => emulator.stop());

/** Keeps the event loop busy for `ms`, as a loaded machine or a long synchronous task would. */
const block = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('VolcClient and its slots', () => {
  it('gives up a slot it would leave more than the late allowance after, and sends on a new one', async () => {
    // Prepare: 10 slots a second; the event loop is blocked for 150 ms from just before the second slot.
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 1, lateAllowanceMs: 10 });
    const slots: number[] = [];
    let missed = 0;
    const limiter: RateLimiter = {
      lateAllowanceMs: bucket.lateAllowanceMs,
      reserve(maxWaitMs) {
        const wait = bucket.reserve(maxWaitMs);
        slots.push(performance.now() + wait);
        // Set before the client's own timer for the slot, with an earlier expiry: it runs first.
        if (slots.length === 2) setTimeout(() => block(150), Math.max(0, wait - 20));
        return wait;
      },
      missed: () => missed++,
    };
    const client = new VolcClient({
      endpoint: emulator.url,
      region: 'cn-north-1',
      service: 'rtc',
      credentials: () => TEST_CREDENTIALS,
      limiter,
      retry: { maxAttempts: 1, baseDelayMs: 10, maxDelayMs: 10 },
    });
    const address = { appId: 'app', roomId: 'room', taskId: 'task' };
    // Act
    await client.getSegmentTask('2023-11-01', address, { timeoutMs: 2_000 });
    const second = await client.getSegmentTask('2023-11-01', address, { timeoutMs: 2_000 });
    // Assess: the second call's first slot went unused, a third was taken, one attempt answered.
    expect(second.task?.Status).toBe(2);
    expect(second.attempts).toBe(1);
    expect(missed).toBe(1);
    expect(slots).toHaveLength(3);
    expect(slots[2]! - slots[1]!).toBeGreaterThan(100);
    expect(emulator.callsOf('GetSegmentTask')).toHaveLength(2);
  });
});
