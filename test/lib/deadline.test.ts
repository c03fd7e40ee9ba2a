/** One invocation's deadline (lib/deadline.ts): made from whatever time a context reports, never a throw. */
import { describe, expect, it } from 'vitest';
import { deadlineIn } from '../../lib/deadline.ts';

const aborted = (signal: AbortSignal) =>
  new Promise<unknown>((resolve) =>
    signal.aborted ? resolve(signal.reason) : signal.addEventListener('abort', () => resolve(signal.reason)),
  );

describe('deadlineIn', () => {
  it('takes a time left that is not a whole number of ms (a runner reporting 3000.5 ms)', async () => {
    const deadline = deadlineIn(1.5, new AbortController().signal);
    expect(deadline.at - performance.now()).toBeLessThanOrEqual(1.5);
    expect(await aborted(deadline.signal)).toBeInstanceOf(DOMException);
  });

  it('reads a time left that is not a number, or below zero, as none left', async () => {
    for (const ms of [Number.NaN, -5]) {
      const deadline = deadlineIn(ms, new AbortController().signal);
      expect(deadline.at).toBeLessThanOrEqual(performance.now());
      await aborted(deadline.signal);
    }
  });

  it('aborts when the invocation is cancelled, before its time', async () => {
    const cancelled = new AbortController();
    const deadline = deadlineIn(60_000, cancelled.signal);
    cancelled.abort(new Error('middy gave up'));
    expect(deadline.signal.aborted).toBe(true);
  });
});
