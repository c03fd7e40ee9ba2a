import { expect, vi } from 'vitest';

/** Waits (up to `timeoutMs`) until a test peer counts `atLeast` requests their client abandoned (cut by a deadline). */
export const abandoned = (count: () => number, atLeast = 1, timeoutMs = 5_000) =>
  vi.waitFor(() => expect(count()).toBeGreaterThanOrEqual(atLeast), { timeout: timeoutMs, interval: 50 });
