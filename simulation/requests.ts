/**
 * Counts the AWS requests the simulated functions make, each for the function whose invocation
 * made it (the scheduler's current invocation): S3 by kind, the registry's DynamoDB reads and
 * writes with the units DynamoDB would bill for them (simulation/dynamodb-units.ts),
 * EventBridge PutEvents entries and their 64 KB chunks, Lambda invocations with the virtual time
 * they ran, and Volcengine calls. The counting wrappers sit inside the fault injector: a call it
 * fails before the store applies it is not counted (a 5xx is not billed), one applied before an
 * injected crash is.
 */
import { LANES } from '../lib/archive/registry.ts';
import type { MemoryRegistry } from './memory-registry.ts';
import { keysOf, type ObjectStore } from '../lib/archive/object-store.ts';
import type { EntryRef, WatchRegistry } from '../lib/archive/registry.ts';
import { EVENT_SOURCE, type EventPublisher } from '../lib/callback/publisher.ts';
import type { PublishedEvent } from '../lib/callback/schemas.ts';
import { eventuallyConsistentReadUnits, indexItemBytes, indexWriteUnits, itemBytes, writeUnits } from './dynamodb-units.ts';
import type { Scheduler } from './scheduler.ts';

/** Both registries' due cursors: the stretch read, and the key to go on after inside it. */
interface StretchCursor {
  stretch: number;
  key: unknown;
}

export const SIMULATED_FUNCTIONS = ['lookup', 'callback', 'archiver'] as const;
export type SimulatedFunction = (typeof SIMULATED_FUNCTIONS)[number];

export interface FunctionRequests {
  invocations: number;
  /**
   * Virtual seconds its invocations ran (those the faults killed: none): the archiver's pacing;
   * store calls and a lookup's Volcengine calls take none.
   */
  virtualSeconds: number;
  volcengineCalls: number;
  s3: { get: number; put: number; list: number; delete: number };
  /**
   * The registry table: requests, and the units they consume in the table (writeUnits, comparable
   * with what dynalite reports) and in its `due` index (indexWriteUnits, which DynamoDB bills too).
   */
  dynamodb: { reads: number; writes: number; readUnits: number; writeUnits: number; indexWriteUnits: number };
  /** PutEvents requests, their entries, and the 64 KB chunks they are billed by. */
  eventBridge: { putEvents: number; entries: number; chunks: number };
}

export type RequestCounts = Record<SimulatedFunction, FunctionRequests>;

const none = (): FunctionRequests => ({
  invocations: 0,
  virtualSeconds: 0,
  volcengineCalls: 0,
  s3: { get: 0, put: 0, list: 0, delete: 0 },
  dynamodb: { reads: 0, writes: 0, readUnits: 0, writeUnits: 0, indexWriteUnits: 0 },
  eventBridge: { putEvents: 0, entries: 0, chunks: 0 },
});

/** The tick item ({ pk, sk, tick, owner, leaseUntil, ended, claimedBefore }): well under 1 KB, one unit a read or write. */
const TICK_ITEM_UNITS = 1;
const EVENT_CHUNK_BYTES = 64 * 1024;
/** Size of a PutEvents entry as EventBridge bills it: Time (14 bytes), Source, DetailType and Detail as EventBridgePublisher sends them. */
const entryBytes = (event: PublishedEvent) =>
  14 + Buffer.byteLength(EVENT_SOURCE) + Buffer.byteLength(event.EventType) + Buffer.byteLength(JSON.stringify(event));

export class RequestCounter {
  readonly counts: RequestCounts = { lookup: none(), callback: none(), archiver: none() };
  /** Requests made outside a function's invocation (none expected: the simulation reads its results without counting). */
  unattributed = 0;

  constructor(readonly scheduler: Scheduler) {}

  #current(): FunctionRequests | undefined {
    const kind = this.scheduler.current?.kind;
    if (kind === 'lookup' || kind === 'callback' || kind === 'archiver') return this.counts[kind];
    this.unattributed++;
    return undefined;
  }

  /**
   * An invocation of `name` starts (in its own invocation of the scheduler); the answer is called
   * when it finishes, adding its virtual time. One the faults killed adds none: it may still finish
   * when a real timer of its own (a budget) fires, at a virtual time that depends on the machine.
   */
  invoked(name: SimulatedFunction): () => void {
    const counts = this.counts[name];
    const invocation = this.scheduler.current;
    const startedAt = this.scheduler.now;
    counts.invocations++;
    return () => {
      if (!invocation?.dead) counts.virtualSeconds += (this.scheduler.now - startedAt) / 1000;
    };
  }

  /** A call to Volcengine. */
  upstreamCall(): void {
    const counts = this.#current();
    if (counts) counts.volcengineCalls++;
  }

  objectStore(store: ObjectStore): ObjectStore {
    const count = <T>(kind: keyof FunctionRequests['s3'], request: () => Promise<T>): Promise<T> => {
      const counts = this.#current();
      if (counts) counts.s3[kind]++;
      return request();
    };
    const counted: ObjectStore = {
      getJson: (key) => count('get', () => store.getJson(key)),
      putJson: (key, value, condition) => count('put', () => store.putJson(key, value, condition)),
      delete: (key) => count('delete', () => store.delete(key)),
      listPage: (prefix, options) => count('list', () => store.listPage(prefix, options)),
      keys: (prefix) => keysOf(counted, prefix),
    };
    return counted;
  }

  publisher(bus: EventPublisher): EventPublisher {
    return {
      publish: (event) => {
        const counts = this.#current();
        if (counts) {
          counts.eventBridge.putEvents++;
          counts.eventBridge.entries++;
          counts.eventBridge.chunks += Math.ceil(entryBytes(event) / EVENT_CHUNK_BYTES);
        }
        return bus.publish(event);
      },
    };
  }

  /**
   * The registry's requests as DynamoDbRegistry makes them: each method one request (beginTick a
   * read, and a write unless the read decided), each write's units from the entry before and after
   * it. MemoryRegistry applies a request when it is called (its methods never wait), so the entry
   * read right after the call is the one the request left.
   */
  registry(registry: MemoryRegistry): WatchRegistry {
    const dynamodb = () => this.#current()?.dynamodb;
    const write = <T>(ref: EntryRef, request: () => Promise<T>): Promise<T> => {
      const before = registry.peek(ref);
      const answer = request();
      const after = registry.peek(ref);
      const counts = dynamodb();
      if (counts) {
        counts.writes++;
        counts.writeUnits += writeUnits(Math.max(itemBytes(before), itemBytes(after)));
        counts.indexWriteUnits += indexWriteUnits(before, after);
      }
      return answer;
    };
    const tick = (reads: number, writes: number) => {
      const counts = dynamodb();
      if (!counts) return;
      counts.reads += reads;
      counts.readUnits += reads * TICK_ITEM_UNITS;
      counts.writes += writes;
      counts.writeUnits += writes * TICK_ITEM_UNITS;
    };
    const read = (bytes: number) => {
      const counts = dynamodb();
      if (!counts) return;
      counts.reads++;
      counts.readUnits += eventuallyConsistentReadUnits(bytes);
    };
    return {
      registerRun: (address, startTime, via, now, firstDue) =>
        write({ address, kind: 'run', startTime }, () => registry.registerRun(address, startTime, via, now, firstDue)),
      continueSighting: (address, now, gapMs) =>
        write({ address, kind: 'pending', startTime: undefined }, () => registry.continueSighting(address, now, gapMs)),
      registerPending: (address, via, now) =>
        write({ address, kind: 'pending', startTime: undefined }, () => registry.registerPending(address, via, now)),
      beginTick: async (tickAt, owner, now) => {
        const hold = await registry.beginTick(tickAt, owner, now);
        tick(1, hold ? 1 : 0);
        return hold;
      },
      renewTick: (tickAt, owner, now, claimedBefore) => {
        tick(0, 1);
        return registry.renewTick(tickAt, owner, now, claimedBefore);
      },
      endTick: (tickAt, owner) => {
        tick(0, 1);
        return registry.endTick(tickAt, owner);
      },
      // DynamoDbRegistry queries stretch after stretch until one has due entries: one Query (at least half a unit) per stretch it reads.
      duePage: async (order, after) => {
        const page = await registry.duePage(order, after);
        const first = (after as StretchCursor | undefined)?.stretch ?? 0;
        const next = page.next as StretchCursor | undefined;
        // The stretch whose Query gave the page: the next page's, when it goes on inside it; else the one before.
        const gave = next === undefined ? order.length - 1 : next.key === undefined ? next.stretch - 1 : next.stretch;
        for (let stretch = first; stretch < gave; stretch++) read(0);
        read(page.items.reduce((bytes, entry) => bytes + indexItemBytes(entry), 0));
        return page;
      },
      claim: (entry, tickAt, owner, now, dueAt, inherit) => write(entry, () => registry.claim(entry, tickAt, owner, now, dueAt, inherit)),
      reschedule: (entry, tickAt, change) => write(entry, () => registry.reschedule(entry, tickAt, change)),
      retire: (entry, tickAt) => write(entry, () => registry.retire(entry, tickAt)),
      // A Select COUNT query reads the index items it counts: priced here at the size of an entry like the first one due.
      dueCount: async (now, lanes = LANES) => {
        const counts = await registry.dueCount(now, lanes);
        const sample = (await registry.duePage(LANES.map((lane) => ({ lane, until: Number.MAX_SAFE_INTEGER })))).items[0];
        for (const lane of lanes) read(sample ? counts[lane] * indexItemBytes(sample) : 0);
        return counts;
      },
      entriesPage: async (after) => {
        const page = await registry.entriesPage(after);
        read(page.items.reduce((bytes, entry) => bytes + itemBytes(entry), 0));
        return page;
      },
    };
  }
}
