/**
 * A real S3-protocol server, a real DynamoDB-protocol server (dynalite) and an EventBridge-protocol
 * peer on loopback, with the archive's store, keys, the watch registry and the callback's event
 * bus publisher on top.
 */
import type { ArchiveAccess } from '../../lib/archive/access.ts';
import { DynamoDbRegistry } from '../../lib/archive/dynamodb-registry.ts';
import { S3ObjectStore, type ObjectStore } from '../../lib/archive/object-store.ts';
import { allEntries } from '../../lib/archive/registry.ts';
import { ArchiveKeys, SegmentArchive } from '../../lib/archive/segment-archive.ts';
import { EventBridgePublisher } from '../../lib/callback/publisher.ts';
import { DynaliteServer, REGISTRY_TABLE } from '../dynamodb/dynalite-server.ts';
import { EventBridgeTestServer } from '../eventbridge/eventbridge-server.ts';
import { S3TestServer } from '../s3/s3-server.ts';

export interface ArchiveStack extends ArchiveAccess<DynamoDbRegistry> {
  s3: S3TestServer;
  dynamodb: DynaliteServer;
  store: ObjectStore;
  keys: ArchiveKeys;
  registry: DynamoDbRegistry;
  /** The EventBridge peer the callback publishes to, and a publisher to its bus. */
  events: EventBridgeTestServer;
  publisher: EventBridgePublisher;
  /** The storage settings the functions read from their environment, for this stack. */
  env: Record<string, string>;
  /** Every key in the bucket with its body, and every registry entry, for before/after comparisons. */
  dump(): Promise<Map<string, string>>;
  stop(): Promise<void>;
}

/** The event bus the tests publish to: the packaged template's (stage ci), which the IAM evaluation checks calls against. */
export const TEST_BUS = 'rtc-segment-tasks-ci-callbacks';

/** `registryPageSize`: entries per page of the due index (the registry's 100 unless a test pages sooner). */
export async function startArchiveStack(prefix = 'archive/', options: { registryPageSize?: number } = {}): Promise<ArchiveStack> {
  const s3 = new S3TestServer();
  const dynamodb = new DynaliteServer();
  const events = new EventBridgeTestServer();
  await Promise.all([s3.start(), dynamodb.start(), events.start()]);
  const store = new S3ObjectStore({ bucket: s3.bucket, endpoint: s3.url, region: 'us-east-1', forcePathStyle: true });
  const keys = new ArchiveKeys(prefix);
  const registry = new DynamoDbRegistry({
    table: REGISTRY_TABLE,
    endpoint: dynamodb.url,
    region: 'us-east-1',
    ...(options.registryPageSize ? { pageSize: options.registryPageSize } : {}),
  });
  const { ARCHIVE_BUCKET, S3_ENDPOINT } = s3.clientEnv();
  return {
    s3,
    dynamodb,
    events,
    publisher: new EventBridgePublisher({ busName: TEST_BUS, endpoint: events.url, region: 'us-east-1', maxAttempts: 2 }),
    store,
    keys,
    archive: new SegmentArchive(store, keys),
    registry,
    env: {
      ARCHIVE_BUCKET: ARCHIVE_BUCKET!,
      ARCHIVE_PREFIX: prefix,
      S3_ENDPOINT: S3_ENDPOINT!,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      REGISTRY_TABLE,
      DYNAMODB_ENDPOINT: dynamodb.url,
      EVENT_BUS_NAME: TEST_BUS,
      EVENTS_ENDPOINT: events.url,
    },
    async dump() {
      const all = new Map<string, string>();
      for await (const key of store.keys('')) all.set(key, JSON.stringify((await store.getJson(key))?.body));
      for await (const entry of allEntries(registry))
        all.set(`registry:${JSON.stringify(entry.address)}:${entry.startTime}`, JSON.stringify(entry));
      return all;
    },
    async stop() {
      await Promise.all([s3.stop(), dynamodb.stop(), events.stop()]);
    },
  };
}
