/**
 * Late is not sent: the client against the emulator over loopback, its event loop blocked around
 * a slot. The limiter is scripted: each call's wait is fixed, whatever this machine's speed (a
 * warm-up call first opens the connection), and its slots are recorded.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VolcClient } from '../../../lib/volc/client.ts';
import type { RateLimiter } from '../../../lib/volc/client.ts';
import { VolcEmulator } from '../../emulator/volc-emulator.ts';
import { TEST_CREDENTIALS } from '../../support/credentials.ts';
import { VolcDeadlineError } from '../../../lib/errors.ts';

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

const address = { appId: 'app', roomId: 'room', taskId: 'task' };

/**
 * A limiter whose n-th reservation waits waits[n] ms (0 past the list), answered on a fresh turn of
 * the event loop; `around(n, wait)` runs when it answers, to set what happens around that slot.
 */
function scripted(waits: number[], lateAllowanceMs: number, around: (n: number, wait: number) => void) {
  const slots: number[] = [];
  const counts = { missed: 0 };
  const limiter: RateLimiter = {
    lateAllowanceMs,
    async reserve() {
      await nextTurn();
      const wait = waits[slots.length] ?? 0;
      around(slots.length, wait);
      slots.push(performance.now() + wait);
      return wait;
    },
    missed: () => counts.missed++,
  };
  return { limiter, slots, counts };
}

const clientOn = (limiter: RateLimiter) =>
  new VolcClient({
    endpoint: emulator.url,
    region: 'cn-north-1',
    service: 'rtc',
    credentials: () => TEST_CREDENTIALS,
    limiter,
    retry: { maxAttempts: 1, baseDelayMs: 10, maxDelayMs: 10 },
  });

describe('VolcClient and its slots', () => {
  it('gives up a slot it would leave more than the late allowance after, and sends on a new one', async () => {
    // Prepare: the second call's slot is 100 ms away; the event loop is blocked for 400 ms from 20 ms before it, so the
    // call would leave some 380 ms late. A 100 ms allowance: far below that, far above the few ms a busy machine (three
    // test workers beside a CPU-bound process) adds to the third slot, which must be sent on.
    const { limiter, slots, counts } = scripted([0, 100], 100, (n, wait) => {
      if (n === 1) setTimeout(() => block(400), wait - 20);
    });
    const client = clientOn(limiter);
    const callsBefore = emulator.callsOf('GetSegmentTask').length;
    // Act
    await client.getSegmentTask('2023-11-01', address, { timeoutMs: 2_000 });
    const second = await client.getSegmentTask('2023-11-01', address, { timeoutMs: 2_000 });
    // Assess: the second call's first slot went unused, a third was taken, one attempt answered.
    expect(second.task?.Status).toBe(2);
    expect(second.attempts).toBe(1);
    expect(counts.missed).toBe(1);
    expect(slots).toHaveLength(3);
    expect(slots[2]! - slots[1]!).toBeGreaterThan(100);
    expect(emulator.callsOf('GetSegmentTask').length - callsBefore).toBe(2);
  });

  it("tells the limiter when the call gives up: the signal it reserves with aborts at the call's own timeout", async () => {
    // Prepare: a limiter that never grants, keeping the signal it was given.
    const given: Array<AbortSignal | undefined> = [];
    const limiter: RateLimiter = {
      lateAllowanceMs: 10,
      reserve: (_maxWaitMs, _priority, signal) => {
        given.push(signal);
        return new Promise<number>(() => undefined);
      },
    };
    // Act: no invocation signal, only the call's 100 ms.
    const call = clientOn(limiter).getSegmentTask('2023-11-01', address, { timeoutMs: 100 });
    // Assess: the call ends at its timeout, and the waiter the limiter holds for it is told so (no slot taken for nobody).
    await expect(call).rejects.toBeInstanceOf(VolcDeadlineError);
    expect(given).toHaveLength(1);
    expect(given[0]?.aborted).toBe(true);
  });
});
