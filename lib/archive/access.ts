/**
 * The archive's parts, built from the storage settings: the S3 history and the registry's
 * registrations (what the lookup and callback functions write; loaded on demand by the lookup).
 * The archiver adds the rest of the registry (lib/archive/dynamodb-registry.ts) with the same options.
 */
import type { StorageSettings } from '../config.ts';
import { DynamoDbRegistrations, type DynamoDbRegistryOptions } from './dynamodb-registrations.ts';
import { S3ObjectStore } from './object-store.ts';
import type { Registrations } from './registry.ts';
import { ArchiveKeys, SegmentArchive } from './segment-archive.ts';

/** The history and the registry: its registrations, or (the archiver's) the whole registry. */
export interface ArchiveAccess<R extends Registrations = Registrations> {
  archive: SegmentArchive;
  registry: R;
  /**
   * The same archive, its S3 and DynamoDB requests cut when `signal` aborts (an invocation's
   * deadline). Absent on stores that take no signal (the simulation's, in memory).
   */
  within?(signal: AbortSignal): ArchiveAccess<R>;
}

/** Bounds of each S3 and DynamoDB call (kept tight by the lookup and callback functions), and the caller's user agent. */
export interface StoreOptions {
  maxAttempts?: number;
  requestTimeoutMs?: number;
  userAgent?: string;
}

/** The registry's client settings, for the registrations here and the archiver's whole registry. */
export function registryOptions(storage: StorageSettings, options: StoreOptions = {}): DynamoDbRegistryOptions {
  return { ...storage.registry, ...options };
}

/**
 * `options` bound each S3 and DynamoDB call (the lookup and callback functions keep them tight so a
 * slow store cannot hold up an answer) and name the calling function in the clients' user agent.
 */
export function openArchive(storage: StorageSettings, options: StoreOptions = {}): ArchiveAccess {
  const store = new S3ObjectStore({ bucket: storage.bucket, ...storage.s3, ...options });
  const keys = new ArchiveKeys(storage.prefix);
  const registry = new DynamoDbRegistrations(registryOptions(storage, options));
  return {
    archive: new SegmentArchive(store, keys),
    registry,
    within: (signal) => ({ archive: new SegmentArchive(cutBy(store, signal), keys), registry: cutBy(registry, signal) }),
  };
}

/**
 * A view of `store` (one of the archive's stores on an SDK client, S3ObjectStore or a registry,
 * passing its `sent` options with each request) whose requests carry `signal` as their
 * abortSignal, so that a caller's deadline cuts the requests themselves: the same client and
 * state, made per caller. The store has no #private member, which a view could not read.
 */
export function cutBy<T extends object>(store: T, signal: AbortSignal): T {
  return Object.assign(Object.create(store) as T, { sent: { abortSignal: signal } });
}
