/**
 * The watch registry's port, held to one contract: each case runs against DynamoDbRegistry on a
 * real DynamoDB-protocol server (dynalite, the table created from REGISTRY_TABLE_SCHEMA) and
 * against MemoryRegistry, the simulation's stand-in, which must keep the same conditions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbRegistry } from '../../../lib/archive/dynamodb-registry.ts';
import { MemoryRegistry } from '../../../simulation/memory-registry.ts';
import {
  allEntries,
  countEntries,
  dueEntries,
  readingOrder,
  TICK_LEASE_MS,
  type Lane,
  type RegistryEntry,
  type WatchRegistry,
} from '../../../lib/archive/registry.ts';
import { WINDOW_MS, type TaskAddress } from '../../../lib/volc/schemas.ts';
import { createRegistryTable, DynaliteServer } from '../../dynamodb/dynalite-server.ts';

const NOW = Date.UTC(2026, 11, 1, 12);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const TICK = NOW;
/** The archiver invocation claiming (its Lambda request id). */
const OWNER = 'request-1';
const begins = async (registry: WatchRegistry, tick: number, owner: string, now: number) =>
  (await registry.beginTick(tick, owner, now)) !== undefined;
const address = (taskId: string): TaskAddress => ({ appId: 'app', roomId: 'room', taskId });

let dynalite: DynaliteServer;
let tables = 0;
beforeAll(async () => {
  dynalite = new DynaliteServer();
  await dynalite.start();
});
afterAll(() => dynalite.stop());

const implementations: Array<[string, () => Promise<WatchRegistry>]> = [
  [
    'DynamoDbRegistry on dynalite',
    async () => {
      const table = `registry-${++tables}`;
      await createRegistryTable(dynalite.url, table);
      return new DynamoDbRegistry({ table, endpoint: dynalite.url, region: 'us-east-1' });
    },
  ],
  ['MemoryRegistry', async () => new MemoryRegistry()],
];

async function entriesOf(registry: WatchRegistry, taskId: string): Promise<RegistryEntry[]> {
  const found: RegistryEntry[] = [];
  for await (const entry of allEntries(registry)) if (entry.address.taskId === taskId) found.push(entry);
  return found.sort((a, b) => (a.startTime ?? 0) - (b.startTime ?? 0));
}

/** What an archiver run at `now` reads, in its order (refreshes due over `afterMs` ago before first asks, as `only` says). */
async function dueNow(registry: WatchRegistry, now: number, afterMs = 5 * MINUTE, only: { closingBy?: number } = {}) {
  const due: string[] = [];
  for await (const entry of dueEntries(registry, readingOrder(now, { afterMs, ...only })))
    due.push(`${entry.address.taskId}:${entry.kind}:${entry.dueAt}`);
  return due;
}

describe.each(implementations)('%s', (_name, open) => {
  it('registers a run once: a known run is due at once in the refresh lane, a repeat answers already-watched and keeps it', async () => {
    const registry = await open();
    const start = NOW - 30 * MINUTE;
    expect(await registry.registerRun(address('k'), start, 'lookup', NOW)).toBe('registered');
    expect(await registry.registerRun(address('k'), start, 'archiver', NOW + MINUTE)).toBe('already-watched');
    expect(await entriesOf(registry, 'k')).toMatchObject([
      {
        kind: 'run',
        state: 'known',
        startTime: start,
        deadline: start + WINDOW_MS,
        dueAt: NOW,
        lane: 'refresh',
        registeredAt: NOW,
        via: 'lookup',
        generation: 2,
      },
    ]);
  });

  it('watches an announced run from its StartTime, beside the run running now, and makes it known when seen', async () => {
    const registry = await open();
    const running = NOW - 10 * MINUTE;
    const next = NOW + 60 * MINUTE;
    await registry.registerRun(address('two'), running, 'lookup', NOW);
    expect(await registry.registerRun(address('two'), next, 'watch', NOW)).toBe('registered');
    expect(await registry.registerRun(address('two'), next, 'watch', NOW)).toBe('already-watched');
    expect(await entriesOf(registry, 'two')).toMatchObject([
      { startTime: running, state: 'known' },
      { startTime: next, state: 'announced', dueAt: next, lane: 'first', deadline: next + WINDOW_MS },
    ]);
    await registry.registerRun(address('two'), next, 'lookup', next);
    expect((await entriesOf(registry, 'two'))[1]).toMatchObject({ state: 'known', dueAt: next, lane: 'first' });
  });

  it("keeps a pending registration's first time and deadline, and its latest sighting", async () => {
    const registry = await open();
    expect(await registry.registerPending(address('p'), 'callback', NOW)).toBe('registered');
    expect(await registry.registerPending(address('p'), 'callback', NOW + 5 * MINUTE)).toBe('already-watched');
    expect(await entriesOf(registry, 'p')).toMatchObject([
      {
        kind: 'pending',
        state: 'unknown',
        registeredAt: NOW,
        deadline: NOW + WINDOW_MS,
        dueAt: NOW,
        lane: 'first',
        lastSeenAt: NOW + 5 * MINUTE,
      },
    ]);
  });

  it('continues a sighting while callbacks come at most the gap apart: its last-seen time and generation only', async () => {
    const registry = await open();
    await registry.registerPending(address('s'), 'callback', NOW);
    expect(await registry.continueSighting(address('s'), NOW + MINUTE, 2 * MINUTE)).toBe(true);
    expect(await registry.continueSighting(address('s'), NOW + 3 * MINUTE, 2 * MINUTE)).toBe(true);
    expect(await entriesOf(registry, 's')).toMatchObject([
      { registeredAt: NOW, lastSeenAt: NOW + 3 * MINUTE, burstFrom: NOW, generation: 3, dueAt: NOW, lane: 'first' },
    ]);
  });

  it('writes no sighting after a silence longer than the gap, nor for an address without a pending entry', async () => {
    const registry = await open();
    await registry.registerPending(address('gap'), 'callback', NOW);
    expect(await registry.continueSighting(address('gap'), NOW + 2 * MINUTE + 1, 2 * MINUTE)).toBe(false);
    expect(await registry.continueSighting(address('none'), NOW, 2 * MINUTE)).toBe(false);
    expect(await entriesOf(registry, 'gap')).toMatchObject([{ lastSeenAt: NOW, burstFrom: NOW, generation: 1 }]);
    expect(await countEntries(registry)).toBe(1);
  });

  it("starts a new burst with a callback's registration, keeping an entry's due time and lane; a watch's records no sighting", async () => {
    const registry = await open();
    await registry.registerPending(address('b'), 'callback', NOW);
    await registry.registerPending(address('b'), 'callback', NOW + 10 * MINUTE);
    await registry.registerPending(address('w'), 'watch', NOW);
    expect(await entriesOf(registry, 'b')).toMatchObject([
      { dueAt: NOW, lane: 'first', lastSeenAt: NOW + 10 * MINUTE, burstFrom: NOW + 10 * MINUTE },
    ]);
    expect(await entriesOf(registry, 'w')).toMatchObject([{ lastSeenAt: undefined, burstFrom: undefined }]);
  });

  it("makes a claimed pending entry its address's activity watch (ending lane), kept when registered again, and undoes it", async () => {
    // Prepare
    const registry = await open();
    const ref = { address: address('aw'), kind: 'pending' as const, startTime: undefined };
    await registry.registerPending(ref.address, 'callback', NOW);
    const claimed = (await registry.claim(ref, TICK, OWNER, NOW, NOW + 15 * MINUTE))!;
    const activity = { burstSeen: NOW, endsAfterMs: 5 * MINUTE };
    // Act
    expect(await registry.reschedule(claimed, TICK, { dueAt: NOW + 5 * MINUTE, lane: 'ending', activity })).toBe(true);
    await registry.registerPending(ref.address, 'callback', NOW + 4 * MINUTE);
    // Assess
    expect(await registry.dueCount(NOW + 5 * MINUTE)).toEqual({ ending: 1, first: 0, refresh: 0, retry: 0 });
    const watch = (await registry.claim(ref, TICK + 5 * MINUTE, OWNER, NOW + 5 * MINUTE, NOW + 20 * MINUTE))!;
    expect(watch).toMatchObject({ lane: 'ending', activity, lastSeenAt: NOW + 4 * MINUTE, burstFrom: NOW + 4 * MINUTE });
    await registry.reschedule(watch, TICK + 5 * MINUTE, { dueAt: NOW + 20 * MINUTE, lane: 'first', activity: null });
    expect(await entriesOf(registry, 'aw')).toMatchObject([{ lane: 'first', activity: undefined }]);
  });

  it('keeps an activity watch that a sighting reached after its claim: its retirement fails', async () => {
    const registry = await open();
    const ref = { address: address('kept'), kind: 'pending' as const, startTime: undefined };
    await registry.registerPending(ref.address, 'callback', NOW);
    const claimed = (await registry.claim(ref, TICK, OWNER, NOW + MINUTE, NOW + 15 * MINUTE))!;
    await registry.continueSighting(ref.address, NOW + MINUTE, 2 * MINUTE);
    expect(await registry.retire(claimed, TICK)).toBe(false);
    expect(await countEntries(registry)).toBe(1);
  });

  it('lists only due entries in the reading order (ending, overdue refresh, first, refresh, retry), by due time, over pages', async () => {
    // Prepare: 23 entries per lane, due a second apart in the reverse order of registration, and one not due yet.
    const registry = await open();
    const lanes = { ending: 'e', first: 'f', refresh: 'r', retry: 'y' } as const;
    for (const [lane, prefix] of Object.entries(lanes))
      for (let i = 0; i < 23; i++)
        await registry.registerRun(address(`${prefix}${i}`), NOW - HOUR, 'archiver', NOW, { dueAt: NOW - i * 1000, lane: lane as Lane });
    await registry.registerRun(address('later'), NOW + 3 * MINUTE, 'watch', NOW);
    // Act: refreshes due over 10.5 s ago (12 of them) go ahead of first asks. Every run here shares one window (started
    // an hour ago): of runs whose window closes by a millisecond before it, none go ahead; by it, all.
    const due = await dueNow(registry, NOW, 10_500);
    const farFromClosing = await dueNow(registry, NOW, 10_500, { closingBy: NOW - HOUR + 72 * HOUR - 1 });
    const closing = await dueNow(registry, NOW, 10_500, { closingBy: NOW - HOUR + 72 * HOUR });
    // Assess: the refresh lane's head comes again with the lane (the archiver takes an entry once).
    const lanesOf = (listed: string[]) => listed.map((d) => d[0]).join('');
    expect(lanesOf(due)).toBe(`${'e'.repeat(23)}${'r'.repeat(12)}${'f'.repeat(23)}${'r'.repeat(23)}${'y'.repeat(23)}`);
    expect(lanesOf(farFromClosing)).toBe(`${'e'.repeat(23)}${'f'.repeat(23)}${'r'.repeat(23)}${'y'.repeat(23)}`);
    expect(closing).toEqual(due);
    for (const prefix of Object.values(lanes)) {
      const times = due.filter((d) => d.startsWith(prefix)).map((d) => Number(d.split(':')[2]));
      expect(times.slice(-23)).toEqual([...times.slice(-23)].sort((a, b) => a - b));
      expect(times[0]).toBe(NOW - 22_000);
    }
    expect(await dueNow(registry, NOW + 3 * MINUTE)).toHaveLength(93);
  });

  it('counts what is due in each lane, or in the lanes asked', async () => {
    const registry = await open();
    for (let i = 0; i < 25; i++) await registry.registerPending(address(`p${i}`), 'callback', NOW - i * 1000);
    for (let i = 0; i < 3; i++) await registry.registerRun(address(`k${i}`), NOW - HOUR, 'lookup', NOW);
    await registry.registerRun(address('ahead'), NOW + HOUR, 'watch', NOW);
    expect(await registry.dueCount(NOW)).toEqual({ ending: 0, first: 25, refresh: 3, retry: 0 });
    expect(await registry.dueCount(NOW + 2 * HOUR, ['refresh'])).toEqual({ ending: 0, first: 0, refresh: 3, retry: 0 });
    expect(await registry.dueCount(NOW + 2 * HOUR, ['first'])).toEqual({ ending: 0, first: 26, refresh: 0, retry: 0 });
  });

  it('moves a claimed entry to the lane its reschedule names, and answers when it was claimed before', async () => {
    const registry = await open();
    const ref = { address: address('m'), kind: 'run' as const, startTime: NOW - HOUR };
    await registry.registerRun(ref.address, ref.startTime, 'lookup', NOW - MINUTE);
    const first = await registry.claim(ref, TICK, OWNER, NOW, NOW - MINUTE);
    expect(first?.previousClaimAt).toBeUndefined();
    await registry.reschedule(first!, TICK, { dueAt: NOW + MINUTE, lane: 'ending' });
    const again = await registry.claim(ref, TICK + 5 * MINUTE, OWNER, NOW + 5 * MINUTE, NOW + MINUTE);
    expect(again).toMatchObject({ lane: 'ending', dueAt: NOW + MINUTE, claimedAt: NOW + 5 * MINUTE, previousClaimAt: NOW });
    expect(await registry.dueCount(NOW + MINUTE)).toEqual({ ending: 1, first: 0, refresh: 0, retry: 0 });
  });

  it("keeps the tick of a run's last ask: from the archiver's registration, over a repeat registration, and from reschedules", async () => {
    const registry = await open();
    const ref = { address: address('asked'), kind: 'run' as const, startTime: NOW - HOUR };
    await registry.registerRun(ref.address, ref.startTime, 'archiver', NOW, { dueAt: NOW, lane: 'refresh', askedTick: TICK });
    await registry.registerRun(ref.address, ref.startTime, 'lookup', NOW);
    const first = await registry.claim(ref, TICK + 5 * MINUTE, OWNER, NOW + 5 * MINUTE, NOW);
    expect(first?.askedTick).toBe(TICK);
    await registry.reschedule(first!, TICK + 5 * MINUTE, { dueAt: NOW + 10 * MINUTE });
    const second = await registry.claim(ref, TICK + 10 * MINUTE, OWNER, NOW + 10 * MINUTE, NOW + 10 * MINUTE);
    expect(second?.askedTick).toBe(TICK);
    await registry.reschedule(second!, TICK + 10 * MINUTE, { dueAt: NOW + 15 * MINUTE, askedTick: TICK + 10 * MINUTE });
    expect((await entriesOf(registry, 'asked'))[0]?.askedTick).toBe(TICK + 10 * MINUTE);
  });

  it('keeps the refresh interval an ask gave a run until a reschedule sets another or clears it', async () => {
    const registry = await open();
    const ref = { address: address('interval'), kind: 'run' as const, startTime: NOW - HOUR };
    await registry.registerRun(ref.address, ref.startTime, 'archiver', NOW, { dueAt: NOW, lane: 'refresh' });
    const first = await registry.claim(ref, TICK, OWNER, NOW, NOW);
    expect(first?.intervalMs).toBeUndefined();
    await registry.reschedule(first!, TICK, { dueAt: NOW + 25 * MINUTE, intervalMs: 25 * MINUTE });
    const second = await registry.claim(ref, TICK + 25 * MINUTE, OWNER, NOW + 25 * MINUTE, NOW + 25 * MINUTE);
    expect(second?.intervalMs).toBe(25 * MINUTE);
    // A registration of the run again (a lookup from another instance) keeps it, as it keeps the due time.
    await registry.registerRun(ref.address, ref.startTime, 'lookup', NOW + 25 * MINUTE);
    expect((await entriesOf(registry, 'interval'))[0]?.intervalMs).toBe(25 * MINUTE);
    await registry.reschedule(second!, TICK + 25 * MINUTE, { dueAt: NOW + 40 * MINUTE, intervalMs: null });
    expect((await entriesOf(registry, 'interval'))[0]?.intervalMs).toBeUndefined();
  });

  it('lets one invocation of a schedule tick claim an entry, and the next tick claim it again', async () => {
    const registry = await open();
    await registry.registerRun(address('c'), NOW - MINUTE, 'lookup', NOW);
    const ref = { address: address('c'), kind: 'run' as const, startTime: NOW - MINUTE };
    const [first, duplicate] = await Promise.all([
      registry.claim(ref, TICK, OWNER, NOW, NOW),
      registry.claim(ref, TICK, 'duplicate', NOW + 1, NOW + 1),
    ]);
    expect([first, duplicate].filter(Boolean)).toHaveLength(1);
    expect(await registry.claim(ref, TICK, first ? 'duplicate' : OWNER, NOW + 2, NOW + 2)).toBeUndefined();
    expect(await registry.claim(ref, TICK + 5 * MINUTE, OWNER, NOW + 5 * MINUTE, NOW + 20 * MINUTE)).toMatchObject({
      polledTick: TICK + 5 * MINUTE,
      dueAt: NOW + 20 * MINUTE,
    });
    // Due again only when the claim said.
    expect(await registry.claim(ref, TICK + 10 * MINUTE, OWNER, NOW + 10 * MINUTE, NOW + 10 * MINUTE)).toBeUndefined();
    expect(await dueNow(registry, NOW + 10 * MINUTE)).toEqual([]);
  });

  it('lets the invocation that takes a tick over take back what the dead holder had not finished, and nothing it had', async () => {
    // Prepare: the holder claims three runs at NOW, NOW + 1 s and NOW + 2 s, records that it finished those claimed
    // before NOW + 2 s, and dies.
    const registry = await open();
    const refs = [3, 2, 1].map((m) => ({ address: address(`h${m}`), kind: 'run' as const, startTime: NOW - m * MINUTE }));
    for (const ref of refs) await registry.registerRun(ref.address, ref.startTime, 'lookup', NOW);
    expect(await registry.beginTick(TICK, OWNER, NOW)).toEqual({});
    for (const [i, ref] of refs.entries()) expect(await registry.claim(ref, TICK, OWNER, NOW + i * 1_000, ref.startTime)).toBeDefined();
    expect(await registry.renewTick(TICK, OWNER, NOW + 2_500, NOW + 2_000)).toBe(true);
    // Act: Lambda retries it (same request id); a duplicate delivery runs alongside.
    expect(await registry.beginTick(TICK, 'duplicate', NOW + MINUTE)).toBeUndefined();
    const hold = await registry.beginTick(TICK, OWNER, NOW + MINUTE);
    // Assess: the heir inherits the claims from the mark on, once; a finished one stays the dead holder's.
    expect(hold).toEqual({ inherit: { from: OWNER, claimedSince: NOW + 2_000 } });
    const later = NOW + MINUTE;
    expect(await registry.claim(refs[1]!, TICK, OWNER, later, refs[1]!.startTime, hold!.inherit)).toBeUndefined();
    expect(await registry.claim(refs[2]!, TICK, 'duplicate', later, refs[2]!.startTime)).toBeUndefined();
    const taken = await registry.claim(refs[2]!, TICK, OWNER, later, refs[2]!.startTime, hold!.inherit);
    expect(taken).toMatchObject({ polledTick: TICK, claimedBy: OWNER, claimedAt: later });
    expect(await registry.reschedule(taken!, TICK, { dueAt: refs[2]!.startTime })).toBe(true);
    // A takeover after the lease ran out inherits every claim of the holder it replaced (which recorded no progress).
    const late = await registry.beginTick(TICK, 'request-2', NOW + MINUTE + TICK_LEASE_MS + 1);
    expect(late).toEqual({ inherit: { from: OWNER, claimedSince: Number.NEGATIVE_INFINITY } });
    const retaken = await registry.claim(refs[0]!, TICK, 'request-2', NOW + 2 * MINUTE + TICK_LEASE_MS, refs[0]!.startTime, late!.inherit);
    expect(retaken).toMatchObject({ claimedBy: 'request-2' });
    // The dead holder's claim no longer holds: its retirement fails, the heir's succeeds.
    expect(await registry.retire({ ...retaken!, claimedBy: OWNER }, TICK)).toBe(false);
    expect(await registry.retire(retaken!, TICK)).toBe(true);
  });

  it('claims nothing that is not due or no longer exists', async () => {
    const registry = await open();
    await registry.registerRun(address('ahead'), NOW + 60 * MINUTE, 'watch', NOW);
    const ref = { address: address('ahead'), kind: 'run' as const, startTime: NOW + 60 * MINUTE };
    expect(await registry.claim(ref, TICK, OWNER, NOW, NOW)).toBeUndefined();
    expect(await registry.claim({ ...ref, address: address('none') }, TICK, OWNER, NOW, NOW)).toBeUndefined();
  });

  it('lets only the holder of the claim reschedule or retire: a later tick that took the entry decides instead', async () => {
    const registry = await open();
    await registry.registerPending(address('h'), 'watch', NOW);
    const ref = { address: address('h'), kind: 'pending' as const, startTime: undefined };
    const early = (await registry.claim(ref, TICK, OWNER, NOW, NOW))!;
    const late = (await registry.claim(ref, TICK + 5 * MINUTE, OWNER, NOW + 5 * MINUTE, NOW + 5 * MINUTE))!;
    expect(await registry.reschedule(early, TICK, { dueAt: NOW + 15 * MINUTE })).toBe(false);
    expect(await registry.retire(early, TICK)).toBe(false);
    expect(await registry.reschedule(late, TICK + 5 * MINUTE, { dueAt: NOW + 20 * MINUTE })).toBe(true);
    expect(await entriesOf(registry, 'h')).toMatchObject([{ dueAt: NOW + 20 * MINUTE }]);
  });

  it('never loses a registration that races the retirement of the same pending entry, whichever lands first', async () => {
    for (const order of ['retire first', 'register first'] as const) {
      const registry = await open();
      await registry.registerPending(address('race'), 'callback', NOW);
      const claimed = (await registry.claim({ address: address('race'), kind: 'pending', startTime: undefined }, TICK, OWNER, NOW, NOW))!;
      const register = () => registry.registerPending(address('race'), 'callback', NOW + 1000);
      if (order === 'retire first') {
        expect(await registry.retire(claimed, TICK)).toBe(true);
        expect(await register()).toBe('registered');
      } else {
        await register();
        expect(await registry.retire(claimed, TICK)).toBe(false);
      }
      expect(await entriesOf(registry, 'race')).toHaveLength(1);
    }
  });

  it('retires a claimed run whatever registrations of it came meanwhile (its run is archived final)', async () => {
    const registry = await open();
    await registry.registerRun(address('r'), NOW - MINUTE, 'lookup', NOW);
    const claimed = (await registry.claim(
      { address: address('r'), kind: 'run', startTime: NOW - MINUTE },
      TICK,
      OWNER,
      NOW,
      NOW - MINUTE,
    ))!;
    await registry.registerRun(address('r'), NOW - MINUTE, 'lookup', NOW + 1000);
    expect(await registry.retire(claimed, TICK)).toBe(true);
    expect(await countEntries(registry)).toBe(0);
  });

  it('keeps when a run of refusals began, a later code, and clears them on an answer', async () => {
    const registry = await open();
    await registry.registerPending(address('no'), 'callback', NOW);
    const ref = { address: address('no'), kind: 'pending' as const, startTime: undefined };
    const first = (await registry.claim(ref, TICK, OWNER, NOW, NOW))!;
    await registry.reschedule(first, TICK, { dueAt: NOW + 15 * MINUTE, refused: { code: 'InvalidParameter', since: NOW } });
    const second = (await registry.claim(ref, TICK + 15 * MINUTE, OWNER, NOW + 15 * MINUTE, NOW + 15 * MINUTE))!;
    expect(second.refused).toEqual({ code: 'InvalidParameter', since: NOW });
    await registry.reschedule(second, TICK + 15 * MINUTE, {
      dueAt: NOW + 30 * MINUTE,
      refused: { code: 'AccessDenied.NoPermissionForApp', since: NOW + 15 * MINUTE },
    });
    const third = (await registry.claim(ref, TICK + 30 * MINUTE, OWNER, NOW + 30 * MINUTE, NOW + 30 * MINUTE))!;
    expect(third.refused).toEqual({ code: 'AccessDenied.NoPermissionForApp', since: NOW });
    await registry.reschedule(third, TICK + 30 * MINUTE, { dueAt: NOW + 35 * MINUTE, refused: null });
    expect((await entriesOf(registry, 'no'))[0]).toMatchObject({ refused: undefined, dueAt: NOW + 35 * MINUTE });
  });

  it('lets one delivery of a schedule tick run it, a retry of it take over, and nothing older or ended run', async () => {
    const registry = await open();
    const [a, b] = await Promise.all([begins(registry, TICK, 'first', NOW), begins(registry, TICK, 'duplicate', NOW + 1)]);
    expect([a, b].sort()).toEqual([false, true]);
    const holder = a ? 'first' : 'duplicate';
    const other = a ? 'duplicate' : 'first';
    // Lambda retries a failed invocation with its request id: the retry takes the tick over.
    expect(await begins(registry, TICK, holder, NOW + 30_000)).toBe(true);
    expect(await begins(registry, TICK, other, NOW + 30_000 + TICK_LEASE_MS - 1)).toBe(false);
    expect(await registry.renewTick(TICK, holder, NOW + 50_000)).toBe(true);
    expect(await begins(registry, TICK, other, NOW + 30_000 + TICK_LEASE_MS + 1)).toBe(false);
    // A holder silent for longer than the lease is presumed dead.
    expect(await begins(registry, TICK, other, NOW + 50_000 + TICK_LEASE_MS + 1)).toBe(true);
    expect(await registry.renewTick(TICK, holder, NOW + 50_000 + TICK_LEASE_MS + 2)).toBe(false);
    await registry.endTick(TICK, other);
    expect(await begins(registry, TICK, other, NOW + 3 * TICK_LEASE_MS)).toBe(false);
    expect(await begins(registry, TICK - 5 * MINUTE, 'late', NOW + 3 * TICK_LEASE_MS)).toBe(false);
    expect(await begins(registry, TICK + 5 * MINUTE, 'next', NOW + 5 * MINUTE)).toBe(true);
    expect(await countEntries(registry)).toBe(0);
  });
});
