/**
 * The watch registry in memory, for the capacity simulation (npm run simulate), where thousands
 * of archiver runs on a virtual clock cannot go through a DynamoDB server. Each method is one
 * request of DynamoDbRegistry and holds the same condition, atomically: the fidelity test
 * (test/lib/archive/registry.test.ts) runs the same cases against both.
 */
import type { TaskAddress } from '../lib/volc/schemas.ts';
import {
  addressKey,
  entrySortKey,
  LANES,
  noLanes,
  PENDING_LANE,
  PENDING_LIFETIME_MS,
  runRegistration,
  TICK_LEASE_MS,
  type FirstDue,
  type DueEntry,
  type DueStretch,
  type EntryChange,
  type EntryRef,
  type Lane,
  type Page,
  type PageCursor,
  type RegisterOutcome,
  type RegistrationVia,
  type RegistryEntry,
  type Inheritance,
  type TickHold,
  type WatchRegistry,
} from '../lib/archive/registry.ts';

/** The due index's order: the lane (its place in LANES), dueAt, then the entry's keys (as DynamoDB orders a GSI partition's items). */
type IndexKey = [lane: number, dueAt: number, pk: string, sk: string];

const compare = (a: IndexKey, b: IndexKey): number =>
  a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0) || (a[3] < b[3] ? -1 : a[3] > b[3] ? 1 : 0);
const laneStart = (lane: number): IndexKey => [lane, Number.NEGATIVE_INFINITY, '', ''];
/** Where a read of the due index stopped: a stretch (its place in the order read) and the last key read in it. */
interface MemoryDueCursor {
  stretch: number;
  key: IndexKey | undefined;
}

/** A refusal keeps the time of the first one in a row; an answer clears it. */
const refusedAfter = (stored: RegistryEntry, refused: NonNullable<EntryChange['refused']> | null): RegistryEntry['refused'] =>
  refused === null ? undefined : { code: refused.code, since: stored.refused?.since ?? refused.since };

export class MemoryRegistry implements WatchRegistry {
  readonly #entries = new Map<string, RegistryEntry>();
  /** Index keys of every entry, in order. */
  #index: IndexKey[] = [];
  #tick: { tick: number; owner: string; leaseUntil: number; ended: boolean; claimedBefore: number | undefined } | undefined;
  readonly #pageSize: number;

  /** `pageSize`: entries per page of the due index (100, as DynamoDbRegistry) and of the entry listing. */
  constructor(options: { pageSize?: number } = {}) {
    this.#pageSize = options.pageSize ?? 100;
  }

  async registerRun(address: TaskAddress, startTime: number, via: Exclude<RegistrationVia, 'callback'>, now: number, firstDue?: FirstDue) {
    const registration = runRegistration(startTime, via, now, firstDue);
    const ref: EntryRef = { address, kind: 'run', startTime };
    return this.#upsert(ref, (old) => ({
      ...ref,
      state: registration.state === 'known' || !old ? registration.state : old.state,
      registeredAt: old?.registeredAt ?? now,
      via: old?.via ?? via,
      deadline: registration.deadline,
      dueAt: old?.dueAt ?? registration.firstDue.dueAt,
      lane: old?.lane ?? registration.firstDue.lane,
      generation: (old?.generation ?? 0) + 1,
      polledTick: old?.polledTick,
      claimedBy: old?.claimedBy,
      claimedAt: old?.claimedAt,
      refused: old?.refused,
      lastSeenAt: old?.lastSeenAt,
      burstFrom: old?.burstFrom,
      activity: old?.activity,
      askedTick: old?.askedTick ?? firstDue?.askedTick,
      intervalMs: old?.intervalMs,
    }));
  }

  async registerPending(address: TaskAddress, via: 'callback' | 'watch', now: number) {
    const ref: EntryRef = { address, kind: 'pending', startTime: undefined };
    return this.#upsert(ref, (old) => ({
      ...ref,
      state: 'unknown',
      registeredAt: old?.registeredAt ?? now,
      via: old?.via ?? via,
      deadline: old?.deadline ?? now + PENDING_LIFETIME_MS,
      dueAt: old?.dueAt ?? now,
      lane: old?.lane ?? PENDING_LANE,
      generation: (old?.generation ?? 0) + 1,
      polledTick: old?.polledTick,
      claimedBy: old?.claimedBy,
      claimedAt: old?.claimedAt,
      refused: old?.refused,
      lastSeenAt: via === 'callback' ? now : old?.lastSeenAt,
      burstFrom: via === 'callback' ? now : old?.burstFrom,
      activity: old?.activity,
      askedTick: old?.askedTick,
    }));
  }

  async continueSighting(address: TaskAddress, now: number, gapMs: number): Promise<boolean> {
    const stored = this.#entries.get(this.#key({ address, kind: 'pending', startTime: undefined }));
    if (stored?.lastSeenAt === undefined || stored.lastSeenAt < now - gapMs) return false;
    this.#write({ ...stored, lastSeenAt: now, generation: stored.generation + 1 });
    return true;
  }

  async beginTick(tick: number, owner: string, now: number): Promise<TickHold | undefined> {
    const held = this.#tick;
    const takeover = held?.tick === tick && !held.ended && (held.owner === owner || held.leaseUntil < now);
    if (held && held.tick >= tick && !takeover) return undefined;
    this.#tick = { tick, owner, leaseUntil: now + TICK_LEASE_MS, ended: false, claimedBefore: undefined };
    return takeover ? { inherit: { from: held!.owner, claimedSince: held!.claimedBefore ?? Number.NEGATIVE_INFINITY } } : {};
  }

  async renewTick(tick: number, owner: string, now: number, claimedBefore?: number): Promise<boolean> {
    if (this.#tick?.tick !== tick || this.#tick.owner !== owner) return false;
    this.#tick.leaseUntil = now + TICK_LEASE_MS;
    if (claimedBefore !== undefined) this.#tick.claimedBefore = claimedBefore;
    return true;
  }

  async endTick(tick: number, owner: string): Promise<void> {
    if (this.#tick?.tick === tick && this.#tick.owner === owner) this.#tick.ended = true;
  }

  /** As DynamoDbRegistry reads it: a page holds one stretch's entries (one Query each), a stretch read to its end goes on with the next. */
  async duePage(order: readonly DueStretch[], after?: PageCursor): Promise<Page<DueEntry>> {
    let { stretch, key } = (after as MemoryDueCursor | undefined) ?? { stretch: 0, key: undefined };
    for (; stretch < order.length; stretch++, key = undefined) {
      const { lane, until } = order[stretch]!;
      const laneOrder = LANES.indexOf(lane);
      const items: DueEntry[] = [];
      let at = this.#position(key ?? laneStart(laneOrder), key !== undefined);
      for (; items.length < this.#pageSize && this.#index[at]?.[0] === laneOrder && this.#index[at]![1] <= until; at++) {
        const found = this.#index[at]!;
        const { address, kind, startTime, dueAt, lane: entryLane, deadline, state } = this.#entries.get(`${found[2]}\n${found[3]}`)!;
        items.push({ address, kind, startTime, dueAt, lane: entryLane, deadline, state });
      }
      // Like a Query with a Limit, a full page has a cursor even when nothing follows.
      if (items.length === this.#pageSize) return { items, next: { stretch, key: this.#index[at - 1] } };
      if (items.length > 0) return { items, next: stretch + 1 < order.length ? { stretch: stretch + 1, key: undefined } : undefined };
    }
    return { items: [], next: undefined };
  }

  async dueCount(now: number, lanes: readonly Lane[] = LANES): Promise<Record<Lane, number>> {
    const counts = noLanes();
    LANES.forEach((lane, order) => {
      if (!lanes.includes(lane)) return;
      for (let at = this.#position(laneStart(order), false); this.#index[at]?.[0] === order && this.#index[at]![1] <= now; at++)
        counts[lane]++;
    });
    return counts;
  }

  async claim(
    ref: EntryRef,
    tick: number,
    owner: string,
    now: number,
    dueAt: number,
    inherit?: Inheritance,
  ): Promise<RegistryEntry | undefined> {
    const entry = this.#entries.get(this.#key(ref));
    if (!entry || entry.dueAt > now) return undefined;
    const unclaimed = entry.polledTick === undefined || entry.polledTick < tick;
    const inherited =
      inherit !== undefined &&
      entry.polledTick === tick &&
      entry.claimedBy === inherit.from &&
      (entry.claimedAt ?? Number.NEGATIVE_INFINITY) >= inherit.claimedSince;
    if (!unclaimed && !inherited) return undefined;
    const claimed = { ...entry, polledTick: tick, claimedBy: owner, claimedAt: now, dueAt };
    this.#write(claimed);
    return { ...claimed, previousClaimAt: entry.claimedAt };
  }

  async reschedule(entry: RegistryEntry, tick: number, change: EntryChange): Promise<boolean> {
    const stored = this.#entries.get(this.#key(entry));
    if (stored?.polledTick !== tick || stored.claimedBy !== entry.claimedBy) return false;
    this.#write({
      ...stored,
      dueAt: change.dueAt,
      ...(change.lane ? { lane: change.lane } : {}),
      ...(change.state ? { state: change.state } : {}),
      ...(change.refused === undefined ? {} : { refused: refusedAfter(stored, change.refused) }),
      ...(change.activity === undefined ? {} : { activity: change.activity ?? undefined }),
      ...(change.askedTick === undefined ? {} : { askedTick: change.askedTick }),
      ...(change.intervalMs === undefined ? {} : { intervalMs: change.intervalMs ?? undefined }),
    });
    return true;
  }

  async retire(entry: RegistryEntry, tick: number): Promise<boolean> {
    const stored = this.#entries.get(this.#key(entry));
    if (stored?.polledTick !== tick || stored.claimedBy !== entry.claimedBy) return false;
    if (entry.kind === 'pending' && stored.generation !== entry.generation) return false;
    this.#remove(stored);
    return true;
  }

  /** The entry as stored (never changed in place: each write stores a new one); not a request, for the simulation's cost counting. */
  peek(ref: EntryRef): Readonly<RegistryEntry> | undefined {
    return this.#entries.get(this.#key(ref));
  }

  async entriesPage(after?: PageCursor): Promise<Page<RegistryEntry>> {
    const start = (after as number | undefined) ?? 0;
    const items = [...this.#entries.values()].slice(start, start + this.#pageSize).map((e) => ({ ...e }));
    return { items, next: start + this.#pageSize < this.#entries.size ? start + this.#pageSize : undefined };
  }

  #upsert(ref: EntryRef, next: (old: RegistryEntry | undefined) => RegistryEntry): RegisterOutcome {
    const old = this.#entries.get(this.#key(ref));
    this.#write(next(old));
    return old ? 'already-watched' : 'registered';
  }

  #key(ref: EntryRef): string {
    return `${addressKey(ref.address)}\n${entrySortKey(ref)}`;
  }

  #indexKey(entry: RegistryEntry): IndexKey {
    return [LANES.indexOf(entry.lane), entry.dueAt, addressKey(entry.address), entrySortKey(entry)];
  }

  #write(entry: RegistryEntry): void {
    const old = this.#entries.get(this.#key(entry));
    const moved = !old || old.dueAt !== entry.dueAt || old.lane !== entry.lane;
    if (old && moved) this.#unindex(old);
    if (moved) this.#index.splice(this.#position(this.#indexKey(entry), false), 0, this.#indexKey(entry));
    this.#entries.set(this.#key(entry), entry);
  }

  #remove(entry: RegistryEntry): void {
    this.#unindex(entry);
    this.#entries.delete(this.#key(entry));
  }

  #unindex(entry: RegistryEntry): void {
    const at = this.#position(this.#indexKey(entry), false);
    if (at < this.#index.length && compare(this.#index[at]!, this.#indexKey(entry)) === 0) this.#index.splice(at, 1);
  }

  /** The first position whose key is ≥ `key` (> `key` when `after`). */
  #position(key: IndexKey, after: boolean): number {
    let low = 0;
    let high = this.#index.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      const order = compare(this.#index[mid]!, key);
      if (order < 0 || (after && order === 0)) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
