/** Longest delay setTimeout takes; longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * `work`, or the error `expired()` makes once `ms` have passed; the timer is cleared either way.
 * Work left behind goes on unawaited (callers use this only where it is idempotent), and its
 * late failure is not reported as unhandled.
 */
export async function withTimeout<T>(work: Promise<T>, ms: number, expired: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expired()), Math.max(0, Math.min(ms, MAX_TIMER_MS)));
  });
  work.catch(() => undefined);
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
