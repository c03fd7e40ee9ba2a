/**
 * The in-memory quota item answers as the table does: the same seeded sequences of takes, joins
 * and reads, sent to DynamoDbQuotaStore over dynalite and to MemoryQuotaStore, get the same answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QuotaStore, TakeRequest } from '../../lib/quota/quota-store.ts';
import type { Share } from '../../lib/quota/slots.ts';
import { seeded } from '../../simulation/scheduler.ts';
import { DynaliteServer } from '../dynamodb/dynalite-server.ts';
import { freshQuotaStore } from './dynalite-quota-store.ts';
import { MemoryQuotaStore } from './memory-quota-store.ts';

let server: DynaliteServer;
const signal = () => new AbortController().signal;
const NOW = Date.UTC(2026, 11, 1, 12);

beforeAll(async () => {
  server = new DynaliteServer();
  await server.start();
});
afterAll(() => server.stop());

type Operation =
  | { kind: 'take'; request: TakeRequest }
  | { kind: 'join'; push: number; stamp: number; tolerance: number }
  | { kind: 'read' };

/**
 * Operations near one another in time, so that conditions go both ways: frontiers ahead of and
 * behind now, stamps ahead of and behind the writer, demand markers fresh and old, fractions of a ms.
 */
function operations(seed: number, count: number): Operation[] {
  const random = seeded(seed);
  const pick = <T>(values: T[]) => values[Math.floor(random() * values.length)]!;
  let clock = NOW;
  return Array.from({ length: count }, (): Operation => {
    clock += random() * 30;
    const now = clock + (random() - 0.5) * 100; // writers' views of fleet time differ
    const kind = random();
    if (kind < 0.1) return { kind: 'read' };
    if (kind < 0.2) return { kind: 'join', push: random() * 50, stamp: now, tolerance: pick([0, 50]) };
    const share: Share = pick(['lookup', 'archiver']);
    const request: TakeRequest = {
      share,
      op: pick(['advance', 'restart']),
      spanMs: pick([18.333, 91.667, 55]),
      now,
      at: now + random() * 10,
      latest: now + random() * 300,
      stampToleranceMs: pick([undefined, 50]),
      whenNoDemand: random() < 0.3,
      demandUntil: random() < 0.3 ? now + 1_000 : undefined,
    };
    return { kind: 'take', request };
  });
}

async function answers(store: QuotaStore, ops: Operation[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const op of ops) {
    if (op.kind === 'read') out.push(await store.read(signal()));
    else if (op.kind === 'join') out.push(await store.join(op.push, op.stamp, op.tolerance, signal()));
    else out.push(await store.take(op.request, signal()));
  }
  out.push(await store.read(signal()));
  return out;
}

describe('MemoryQuotaStore', () => {
  it.each([1, 2, 3])('answers seeded sequence %i of 300 operations as the table does', async (seed) => {
    const ops = operations(seed, 300);
    const expected = await answers(await freshQuotaStore(server, 'memory-fidelity'), ops);
    const taken = expected.filter((answer) => (answer as { taken?: boolean } | undefined)?.taken === true).length;
    const refused = expected.filter((answer) => (answer as { taken?: boolean } | undefined)?.taken === false).length;
    // Both outcomes occur many times, or the sequence would test little.
    expect(Math.min(taken, refused)).toBeGreaterThan(30);
    expect(await answers(new MemoryQuotaStore(), ops)).toEqual(expected);
  });
});
