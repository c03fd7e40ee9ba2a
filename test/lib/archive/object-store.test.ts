/**
 * Fidelity of every object-store operation the archive relies on: against the S3-protocol test
 * server (S3ObjectStore), and the same contract for the in-memory store the capacity simulation
 * stands in with (MemoryObjectStore).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../../simulation/memory-object-store.ts';
import { PreconditionFailed, type ObjectStore } from '../../../lib/archive/object-store.ts';
import { startArchiveStack, type ArchiveStack } from '../../support/archive-stack.ts';

let stack: ArchiveStack;
beforeAll(async () => {
  stack = await startArchiveStack();
});
afterAll(() => stack.stop());

const memory = new MemoryObjectStore();
const implementations: Array<[string, () => ObjectStore, () => number]> = [
  ['S3ObjectStore against a real S3-protocol server', () => stack.store, () => stack.s3.counts.LIST],
  ["MemoryObjectStore (the simulation's stand-in)", () => memory, () => memory.lists],
];

describe.each(implementations)('%s', (_name, storeOf, listCalls) => {
  it('round-trips JSON and answers undefined for a missing key', async () => {
    const store = storeOf();
    const etag = await store.putJson('fidelity/a.json', { hello: '世界' });
    const read = await store.getJson('fidelity/a.json');
    expect(read?.body).toEqual({ hello: '世界' });
    expect(read?.etag).toBe(etag);
    expect(await store.getJson('fidelity/missing.json')).toBeUndefined();
  });

  it('create-only writes fail when the key exists', async () => {
    const store = storeOf();
    await store.putJson('fidelity/once.json', { v: 1 }, { ifNoneMatch: true });
    await expect(store.putJson('fidelity/once.json', { v: 2 }, { ifNoneMatch: true })).rejects.toBeInstanceOf(PreconditionFailed);
    expect((await store.getJson('fidelity/once.json'))?.body).toEqual({ v: 1 });
  });

  it('If-Match writes succeed only against the current ETag', async () => {
    const store = storeOf();
    const first = await store.putJson('fidelity/cas.json', { v: 1 });
    const second = await store.putJson('fidelity/cas.json', { v: 2 }, { ifMatch: first });
    await expect(store.putJson('fidelity/cas.json', { v: 3 }, { ifMatch: first })).rejects.toBeInstanceOf(PreconditionFailed);
    await expect(store.putJson('fidelity/absent.json', { v: 1 }, { ifMatch: first })).rejects.toBeInstanceOf(PreconditionFailed);
    expect(second).not.toBe(first);
    expect((await store.getJson('fidelity/cas.json'))?.body).toEqual({ v: 2 });
  });

  it('lets exactly one of 20 racing create-only writes win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => storeOf().putJson('fidelity/race.json', { i }, { ifNoneMatch: true })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('deletes, and deleting a missing key is not an error', async () => {
    const store = storeOf();
    await store.putJson('fidelity/gone.json', {});
    await store.delete('fidelity/gone.json');
    await store.delete('fidelity/gone.json');
    expect(await store.getJson('fidelity/gone.json')).toBeUndefined();
  });

  it('lists past 1,000 keys in key order, page by page, and pages of a chosen size with a token', async () => {
    const store = storeOf();
    const keys = Array.from({ length: 1203 }, (_, i) => `fidelity/list/${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map((k) => store.putJson(k, {})));
    const before = listCalls();
    const listed: string[] = [];
    for await (const key of store.keys('fidelity/list/')) listed.push(key);
    expect(listed).toEqual(keys);
    expect(listCalls() - before).toBe(2);
    const first = await store.listPage('fidelity/list/', { maxKeys: 2 });
    const second = await store.listPage('fidelity/list/', { maxKeys: 2, token: first.nextToken });
    expect([...first.keys, ...second.keys]).toEqual(keys.slice(0, 4));
    const last = await store.listPage('fidelity/list/01', { maxKeys: 1000 });
    expect(last.nextToken).toBeUndefined();
  });

  it('lists the keys after a given key (a timeline page after a Seq), with a page size', async () => {
    const store = storeOf();
    const keys = Array.from({ length: 8 }, (_, i) => `fidelity/after/${String(i + 1).padStart(8, '0')}.json`);
    await Promise.all(keys.map((k) => store.putJson(k, {})));
    const page = await store.listPage('fidelity/after/', { startAfter: keys[2], maxKeys: 3 });
    expect(page.keys).toEqual(keys.slice(3, 6));
    expect(page.nextToken).toBeDefined();
    expect((await store.listPage('fidelity/after/', { startAfter: keys[5], maxKeys: 3 })).keys).toEqual(keys.slice(6));
    expect((await store.listPage('fidelity/after/', { startAfter: 'fidelity/a', maxKeys: 2 })).keys).toEqual(keys.slice(0, 2));
  });
});
