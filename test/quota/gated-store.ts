/** A quota store whose calls a test may answer instead of the table: a failure, throttling, a call that never answers. */
import type { QuotaStore } from '../../lib/quota/quota-store.ts';

/** What a gate answers instead of the table, or undefined to let the call through. */
export type Gate = (kind: keyof QuotaStore, call: number) => Promise<never> | undefined;

/** `table`, each call first offered to `gate` with its kind and its number (from 1, over all kinds). */
export function gatedStore(table: QuotaStore, gate: Gate): QuotaStore {
  let calls = 0;
  return {
    read: (signal) => gate('read', ++calls) ?? table.read(signal),
    take: (request, signal) => gate('take', ++calls) ?? table.take(request, signal),
    join: (pushMs, stamp, toleranceMs, signal) => gate('join', ++calls) ?? table.join(pushMs, stamp, toleranceMs, signal),
  };
}

/** An error as the DynamoDB client throws it: `name` is what the limiter tells throttling and failures apart by. */
export const rejectedAs = (name: string, message: string): Promise<never> => Promise.reject(Object.assign(new Error(message), { name }));

/** A call that never answers (a hanging table). */
export const hang = (): Promise<never> => new Promise<never>(() => undefined);
