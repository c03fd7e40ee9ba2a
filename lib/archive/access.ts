/** The archive's parts, built from the storage settings. Loaded on demand by the lookup function. */
import { ArchiveKeys } from './keys.ts';
import { S3ObjectStore } from './object-store.ts';
import { SegmentArchive } from './segment-archive.ts';
import { WatchRegistry } from './watch-registry.ts';

export interface ArchiveStorageSettings {
  ARCHIVE_BUCKET: string;
  ARCHIVE_PREFIX: string;
  S3_ENDPOINT?: string | undefined;
  S3_REGION: string;
  S3_FORCE_PATH_STYLE: boolean;
}

export interface ArchiveAccess {
  archive: SegmentArchive;
  registry: WatchRegistry;
}

/**
 * `options` bound each S3 call (the lookup and callback functions keep them tight so a slow bucket
 * cannot hold up an answer) and name the calling function in the S3 client's user agent.
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
  const keys = new ArchiveKeys(settings.ARCHIVE_PREFIX);
  return { archive: new SegmentArchive(store, keys), registry: new WatchRegistry(store, keys) };
}
