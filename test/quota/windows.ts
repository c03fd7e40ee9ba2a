/** Counts over windows of time, for calls measured by their times (epoch ms, in any order): the tests' and the quota bench's. */

/** The most calls in any window of one second, wherever it starts (a sliding second, as Volcengine may count). */
export function busiestSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! >= 1000) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

/**
 * The shortest time over which `count` calls left: the slot spacing keeps any 61 departures at
 * least 1,000 + networkMs apart, so that network delays anywhere within networkMs never put 61
 * calls in one second at Volcengine, however they fall (the worst: 80 ms for the first, 0 for the last).
 */
export function shortestSpan(times: number[], count: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let shortest = Number.POSITIVE_INFINITY;
  for (let i = 0; i + count - 1 < sorted.length; i++) shortest = Math.min(shortest, sorted[i + count - 1]! - sorted[i]!);
  return shortest;
}
