/**
 * The registry table's schema, as serverless.yml declares RegistryTable (the template test checks
 * the packaged template against it; tests and the local stack create their table from it).
 *
 * Why a table of its own, not the quota table: the quota table is two hot items on a latency
 * budget of milliseconds per call, the registry a large, growing set with a global index; apart,
 * one's throttling or backlog never delays the other, each role is granted only the table it uses
 * (the callback function never touches the quota), and each can be restored on its own
 * (point-in-time recovery is on for the registry, whose state cannot be rebuilt).
 */
import type { Lane } from './registry.ts';

export const DUE_INDEX = 'due';
/**
 * The due index's partition (dueShard) of each lane. The refresh lane keeps the partition every
 * entry had before lanes ("due"), so entries written by earlier versions are read as refreshes; the
 * ending lane keeps the partition of the closing lane it grew from ("closing").
 * Each partition's writes are far below one partition's 1,000 per second: see the README.
 */
export const LANE_PARTITION: Record<Lane, string> = { ending: 'closing', first: 'first', refresh: 'due', retry: 'retry' };
const PARTITION_LANE = new Map(Object.entries(LANE_PARTITION).map(([lane, partition]) => [partition, lane as Lane]));
export const laneOfPartition = (partition: string | undefined): Lane => PARTITION_LANE.get(partition ?? '') ?? 'refresh';
export const TTL_ATTRIBUTE = 'expiresAt';

export const REGISTRY_TABLE_SCHEMA = {
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
    { AttributeName: 'dueShard', AttributeType: 'S' },
    { AttributeName: 'dueAt', AttributeType: 'N' },
  ],
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  GlobalSecondaryIndexes: [
    {
      IndexName: DUE_INDEX,
      KeySchema: [
        { AttributeName: 'dueShard', KeyType: 'HASH' },
        { AttributeName: 'dueAt', KeyType: 'RANGE' },
      ],
      // Only what ordering and claiming need: a callback's last-seen update then writes no index item.
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['deadline', 'state'] },
    },
  ],
} as const;
