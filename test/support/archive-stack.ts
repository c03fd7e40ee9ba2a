/** A real S3-protocol server on loopback with the archive's store, keys and registry on top. */
import { ArchiveKeys } from '../../lib/archive/keys.ts';
import { S3ObjectStore, type ObjectStore } from '../../lib/archive/object-store.ts';
import { SegmentArchive } from '../../lib/archive/segment-archive.ts';
import { WatchRegistry } from '../../lib/archive/watch-registry.ts';
import { S3TestServer } from '../s3/s3-server.ts';

export interface ArchiveStack {
  s3: S3TestServer;
  store: ObjectStore;
  keys: ArchiveKeys;
  archive: SegmentArchive;
  registry: WatchRegistry;
  /** Every key in the bucket with its body, for before/after comparisons. */
  dump(): Promise<Map<string, string>>;
  stop(): Promise<void>;
}

export async function startArchiveStack(prefix = 'archive/'): Promise<ArchiveStack> {
  const s3 = new S3TestServer();
  await s3.start();
  const store = new S3ObjectStore({ bucket: s3.bucket, endpoint: s3.url, region: 'us-east-1', forcePathStyle: true });
  const keys = new ArchiveKeys(prefix);
  return {
    s3,
    store,
    keys,
    archive: new SegmentArchive(store, keys),
    registry: new WatchRegistry(store, keys),
    async dump() {
      const all = new Map<string, string>();
      for await (const key of store.keys('')) all.set(key, JSON.stringify((await store.getJson(key))?.body));
      return all;
    },
    stop: () => s3.stop(),
  };
}
