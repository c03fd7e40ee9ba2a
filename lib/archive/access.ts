/**
 * The archive's parts, built from the storage settings: the S3 history and the registry's
 * registrations (what the lookup and callback functions write; loaded on demand by the lookup).
 * The archiver adds the rest of the registry (lib/archive/dynamodb-registry.ts) with the same options.
 */
import { DynamoDbRegistrations, type DynamoDbRegistryOptions } from './dynamodb-registrations.ts';
import { ArchiveKeys } from './keys.ts';
import { S3ObjectStore } from './object-store.ts';
import type { Registrations } from './registry.ts';
import { SegmentArchive } from './segment-archive.ts';

export interface ArchiveStorageSettings {
  ARCHIVE_BUCKET: string;
  ARCHIVE_PREFIX: string;
  S3_ENDPOINT?: string | undefined;
  S3_REGION: string;
  S3_FORCE_PATH_STYLE: boolean;
  REGISTRY_TABLE: string;
  DYNAMODB_ENDPOINT?: string | undefined;
  AWS_REGION: string;
}

/** The history and the registry: its registrations, or (the archiver's) the whole registry. */
export interface ArchiveAccess<R extends Registrations = Registrations> {
  archive: SegmentArchive;
  registry: R;
}

/** Bounds of each S3 and DynamoDB call (kept tight by the lookup and callback functions), and the caller's user agent. */
export interface StoreOptions {
  maxAttempts?: number;
  requestTimeoutMs?: number;
  userAgent?: string;
}

/** The registry's client settings, for the registrations here and the archiver's whole registry. */
export function registryOptions(settings: ArchiveStorageSettings, options: StoreOptions = {}): DynamoDbRegistryOptions {
  return { table: settings.REGISTRY_TABLE, endpoint: settings.DYNAMODB_ENDPOINT, region: settings.AWS_REGION, ...options };
}

/**
 * `options` bound each S3 and DynamoDB call (the lookup and callback functions keep them tight so a
 * slow store cannot hold up an answer) and name the calling function in the clients' user agent.
 */
export function openArchive(settings: ArchiveStorageSettings, options: StoreOptions = {}): ArchiveAccess {
  const store = new S3ObjectStore({
    bucket: settings.ARCHIVE_BUCKET,
    endpoint: settings.S3_ENDPOINT,
    region: settings.S3_REGION,
    forcePathStyle: settings.S3_FORCE_PATH_STYLE,
    ...options,
  });
  const archive = new SegmentArchive(store, new ArchiveKeys(settings.ARCHIVE_PREFIX));
  return { archive, registry: new DynamoDbRegistrations(registryOptions(settings, options)) };
}
