/** The archive's parts, built from the storage settings. Loaded on demand by the lookup function. */
import { DynamoDbRegistry } from './dynamodb-registry.ts';
import { ArchiveKeys } from './keys.ts';
import { S3ObjectStore } from './object-store.ts';
import type { WatchRegistry } from './registry.ts';
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

export interface ArchiveAccess {
  archive: SegmentArchive;
  registry: WatchRegistry;
}

/**
 * `options` bound each S3 and DynamoDB call (the lookup and callback functions keep them tight so a
 * slow store cannot hold up an answer) and name the calling function in the clients' user agent.
 */
export function openArchive(
  settings: ArchiveStorageSettings,
  options: { maxAttempts?: number; requestTimeoutMs?: number; userAgent?: string } = {},
): ArchiveAccess {
  const store = new S3ObjectStore({
    bucket: settings.ARCHIVE_BUCKET,
    endpoint: settings.S3_ENDPOINT,
    region: settings.S3_REGION,
    forcePathStyle: settings.S3_FORCE_PATH_STYLE,
    ...options,
  });
  const registry = new DynamoDbRegistry({
    table: settings.REGISTRY_TABLE,
    endpoint: settings.DYNAMODB_ENDPOINT,
    region: settings.AWS_REGION,
    ...options,
  });
  return { archive: new SegmentArchive(store, new ArchiveKeys(settings.ARCHIVE_PREFIX)), registry };
}
