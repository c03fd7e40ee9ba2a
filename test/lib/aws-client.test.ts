/** The AWS clients' per-attempt time limit against the real protocol peers: an attempt past it is cut off and retried. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbRegistrations } from '../../lib/archive/dynamodb-registrations.ts';
import { S3ObjectStore } from '../../lib/archive/object-store.ts';
import { allEntries } from '../../lib/archive/registry.ts';
import { startArchiveStack, type ArchiveStack } from '../support/archive-stack.ts';

let stack: ArchiveStack;
beforeAll(async () => {
  stack = await startArchiveStack('aws-client/');
});
afterAll(() => stack.stop());

// An attempt may take 1 s (a loopback call takes milliseconds); the peer holds the first one for 4 s.
const bounds = { region: 'us-east-1', maxAttempts: 2, requestTimeoutMs: 1_000 };
const HELD_MS = 4_000;

describe('the AWS clients', () => {
  it('cut off a DynamoDB attempt past its time limit and try again, instead of waiting it out', async () => {
    // Prepare
    const registry = new DynamoDbRegistrations({ table: stack.env.REGISTRY_TABLE!, endpoint: stack.dynamodb.url, ...bounds });
    const before = stack.dynamodb.counts.UpdateItem ?? 0;
    stack.dynamodb.inject({ kind: 'latency', latencyMs: HELD_MS, operation: 'UpdateItem', times: 1 });
    // Act
    const outcome = await registry.registerPending({ appId: 'a', roomId: 'r', taskId: 'slow' }, 'callback', Date.now());
    stack.dynamodb.clearFaults();
    // Assess: the held attempt was given up, the second one registered the address.
    expect(outcome).toBe('registered');
    expect((stack.dynamodb.counts.UpdateItem ?? 0) - before).toBe(2);
    const found = [];
    for await (const entry of allEntries(stack.registry)) if (entry.address.taskId === 'slow') found.push(entry);
    expect(found).toHaveLength(1);
  });

  it('cut off an S3 attempt past its time limit and try again', async () => {
    // Prepare
    const store = new S3ObjectStore({ bucket: stack.s3.bucket, endpoint: stack.s3.url, forcePathStyle: true, ...bounds });
    await store.putJson('aws-client/slow.json', { ok: true });
    const before = stack.s3.counts.GET;
    stack.s3.inject({ kind: 'latency', latencyMs: HELD_MS, operation: 'GET', times: 1 });
    // Act
    const read = await store.getJson('aws-client/slow.json');
    stack.s3.clearFaults();
    // Assess
    expect(read?.body).toEqual({ ok: true });
    expect(stack.s3.counts.GET - before).toBe(2);
  });
});
