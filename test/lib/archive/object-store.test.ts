/** Fidelity of every S3 operation the archive relies on, against the S3-protocol test server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PreconditionFailed } from '../../../lib/archive/object-store.ts';
import { startArchiveStack, type ArchiveStack } from '../../support/archive-stack.ts';

let stack: ArchiveStack;
beforeAll(async () => {
  stack = await startArchiveStack();
});
afterAll(() => stack.stop());

describe('ObjectStore against a real S3-protocol server', () => {
  it('round-trips JSON and answers undefined for a missing key', async () => {
    const etag = await stack.store.putJson('fidelity/a.json', { hello: '世界' });
    const read = await stack.store.getJson('fidelity/a.json');
    expect(read?.body).toEqual({ hello: '世界' });
    expect(read?.etag).toBe(etag);
    expect(await stack.store.getJson('fidelity/missing.json')).toBeUndefined();
  });

  it('create-only writes fail when the key exists', async () => {
    await stack.store.putJson('fidelity/once.json', { v: 1 }, { ifNoneMatch: true });
    await expect(stack.store.putJson('fidelity/once.json', { v: 2 }, { ifNoneMatch: true })).rejects.toBeInstanceOf(PreconditionFailed);
    expect((await stack.store.getJson('fidelity/once.json'))?.body).toEqual({ v: 1 });
  });

  it('If-Match writes succeed only against the current ETag', async () => {
    const first = await stack.store.putJson('fidelity/cas.json', { v: 1 });
    const second = await stack.store.putJson('fidelity/cas.json', { v: 2 }, { ifMatch: first });
    await expect(stack.store.putJson('fidelity/cas.json', { v: 3 }, { ifMatch: first })).rejects.toBeInstanceOf(PreconditionFailed);
    await expect(stack.store.putJson('fidelity/absent.json', { v: 1 }, { ifMatch: first })).rejects.toBeInstanceOf(PreconditionFailed);
    expect(second).not.toBe(first);
    expect((await stack.store.getJson('fidelity/cas.json'))?.body).toEqual({ v: 2 });
  });

  it('lets exactly one of 20 racing create-only writes win', async () => {
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => stack.store.putJson('fidelity/race.json', { i }, { ifNoneMatch: true })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('deletes, and deleting a missing key is not an error', async () => {
    await stack.store.putJson('fidelity/gone.json', {});
    await stack.store.delete('fidelity/gone.json');
    await stack.store.delete('fidelity/gone.json');
    expect(await stack.store.getJson('fidelity/gone.json')).toBeUndefined();
  });

  it('lists past 1,000 keys in key order, page by page, and groups by delimiter', async () => {
    const keys = Array.from({ length: 1203 }, (_, i) => `fidelity/list/${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map((k) => stack.store.putJson(k, {})));
    const before = stack.s3.counts.LIST;
    const listed: string[] = [];
    for await (const key of stack.store.keys('fidelity/list/')) listed.push(key);
    expect(listed).toEqual(keys);
    expect(stack.s3.counts.LIST - before).toBe(2);
    const grouped = await stack.store.listPage('fidelity/', { delimiter: '/' });
    expect(grouped.prefixes).toEqual(['fidelity/list/']);
    expect(grouped.keys).toContain('fidelity/a.json');
    expect(grouped.keys.some((k) => k.startsWith('fidelity/list/'))).toBe(false);
  });
});
