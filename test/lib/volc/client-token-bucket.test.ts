import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../lib/volc/client.ts';
import { VolcBudgetExhaustedError } from '../../../lib/errors.ts';

describe('TokenBucket', () => {
  it('never lets more than burst + rate requests start in any one-second window', () => {
    // Prepare
    const now = 0;
    const bucket = new TokenBucket({ ratePerSecond: 50, burst: 5, now: () => now });
    const starts: number[] = [];
    // Act: 500 back-to-back reservations, each starting when its wait ends
    for (let i = 0; i < 500; i++) starts.push(now + bucket.reserve());
    // Assess
    let worst = 0;
    for (let i = 0, j = 0; i < starts.length; i++) {
      while (starts[i]! - starts[j]! >= 1000) j++;
      worst = Math.max(worst, i - j + 1);
    }
    expect(worst).toBeLessThanOrEqual(55);
    expect(starts.at(-1)! / 1000).toBeCloseTo((500 - 5) / 50, 1);
  });

  it('refuses, without reserving, a wait longer than allowed', () => {
    let now = 0;
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, now: () => now });
    expect(bucket.reserve(0)).toBe(0);
    expect(() => bucket.reserve(500)).toThrow(VolcBudgetExhaustedError);
    now = 1000;
    expect(bucket.reserve(0)).toBe(0);
  });

  it('rejects nonsense settings', () => {
    expect(() => new TokenBucket({ ratePerSecond: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBucket({ ratePerSecond: 1, burst: 0 })).toThrow(RangeError);
  });
});
