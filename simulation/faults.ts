/**
 * Faults the simulation injects, deterministically from the scenario's seed, at every store call
 * the real functions make (S3 through the object-store port, DynamoDB through the registry port):
 * each call is an interleaving point of the scheduler; an archiver or callback invocation may die
 * right after sending it (the call applied or not, with equal chance), and any call may fail with
 * a retryable error without being applied.
 */
import type { TaskAddress } from '../lib/volc/schemas.ts';
import { keysOf, type ObjectStore } from '../lib/archive/object-store.ts';
import type { RegistrationVia, WatchRegistry } from '../lib/archive/registry.ts';
import type { Scheduler } from './scheduler.ts';

export interface FaultSettings {
  seed: number;
  /** Probability that a schedule tick is delivered twice, the second 0–2 s later, running alongside. */
  duplicateSchedule: number;
  /** Probability that an archiver or callback invocation dies right after sending a store call. */
  crashPerStoreCall: number;
  /** Probability that a store call fails with a retryable error, not applied. */
  storeErrorRate: number;
  /** Each function instance's clock is off by a fixed amount drawn from ±clockSkewMs. */
  clockSkewMs: number;
}

/** What was actually injected. */
export interface InjectedFaults {
  duplicatedSchedules: number;
  crashes: number;
  storeErrors: number;
  maxSkewMs: number;
}

/** A store answering 503 SlowDown / DynamoDB's InternalServerError: retryable, nothing applied. */
export class SimulatedStoreError extends Error {
  override name = 'SimulatedStoreError';
}

/** A registration the registry applied: the simulation's record of what the functions made known. */
export interface AppliedRegistration {
  address: TaskAddress;
  startTime: number | undefined;
  via: RegistrationVia;
  at: number;
}

export class StoreCalls {
  readonly injected: InjectedFaults = { duplicatedSchedules: 0, crashes: 0, storeErrors: 0, maxSkewMs: 0 };

  constructor(
    readonly scheduler: Scheduler,
    readonly settings: FaultSettings,
  ) {}

  /** A function instance's clock skew, drawn from ±clockSkewMs. */
  skew(): number {
    const skew = Math.round((this.scheduler.random() * 2 - 1) * this.settings.clockSkewMs);
    this.injected.maxSkewMs = Math.max(this.injected.maxSkewMs, Math.abs(skew));
    return skew;
  }

  /** One store call: an interleaving point, then maybe a crash or an error, else the call. */
  async call<T>(operation: () => Promise<T>): Promise<T> {
    const { scheduler, settings } = this;
    await scheduler.point();
    const kind = scheduler.current?.kind;
    if ((kind === 'archiver' || kind === 'callback') && scheduler.random() < settings.crashPerStoreCall) {
      this.injected.crashes++;
      if (scheduler.random() < 0.5) await operation().catch(() => undefined);
      return scheduler.die();
    }
    if (scheduler.random() < settings.storeErrorRate) {
      this.injected.storeErrors++;
      throw new SimulatedStoreError('the store did not answer (simulated)');
    }
    return operation();
  }

  objectStore(store: ObjectStore): ObjectStore {
    const wrapped: ObjectStore = {
      getJson: (key) => this.call(() => store.getJson(key)),
      putJson: (key, value, condition) => this.call(() => store.putJson(key, value, condition)),
      delete: (key) => this.call(() => store.delete(key)),
      listPage: (prefix, options) => this.call(() => store.listPage(prefix, options)),
      keys: (prefix) => keysOf(wrapped, prefix),
    };
    return wrapped;
  }

  /** `onRegistered` hears of every registration the registry applied. */
  registry(registry: WatchRegistry, onRegistered: (registration: AppliedRegistration) => void): WatchRegistry {
    const applied = async <T>(registration: () => Promise<T>, record: AppliedRegistration): Promise<T> => {
      const outcome = await registration();
      onRegistered(record);
      return outcome;
    };
    return {
      registerRun: (address, startTime, via, now, firstDue) =>
        this.call(() =>
          applied(() => registry.registerRun(address, startTime, via, now, firstDue), { address, startTime, via, at: this.scheduler.now }),
        ),
      registerPending: (address, via, now) =>
        this.call(() =>
          applied(() => registry.registerPending(address, via, now), { address, startTime: undefined, via, at: this.scheduler.now }),
        ),
      continueSighting: (address, now, gapMs) =>
        this.call(async () => {
          const written = await registry.continueSighting(address, now, gapMs);
          if (written) onRegistered({ address, startTime: undefined, via: 'callback', at: this.scheduler.now });
          return written;
        }),
      beginTick: (tick, owner, now) => this.call(() => registry.beginTick(tick, owner, now)),
      renewTick: (tick, owner, now, claimedBefore) => this.call(() => registry.renewTick(tick, owner, now, claimedBefore)),
      endTick: (tick, owner) => this.call(() => registry.endTick(tick, owner)),
      duePage: (now, after) => this.call(() => registry.duePage(now, after)),
      claim: (entry, tick, owner, now, dueAt, inherit) => this.call(() => registry.claim(entry, tick, owner, now, dueAt, inherit)),
      reschedule: (entry, tick, change) => this.call(() => registry.reschedule(entry, tick, change)),
      retire: (entry, tick) => this.call(() => registry.retire(entry, tick)),
      dueCount: (now, lanes) => this.call(() => registry.dueCount(now, lanes)),
      entriesPage: (after) => this.call(() => registry.entriesPage(after)),
    };
  }
}
