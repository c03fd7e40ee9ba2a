import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveKeys, UnsafeIdError } from '../../../lib/archive/keys.ts';
import { startArchiveStack, type ArchiveStack } from '../../support/archive-stack.ts';

const keys = new ArchiveKeys('archive/');

describe('ArchiveKeys', () => {
  it.each(['a/b', '../x', '', 'x'.repeat(129), 'a b', 'a\nb', '名', '%2e%2e', 'a\\b', 'a~b'])('refuses the id %j', (id) => {
    expect(() => keys.latest({ appId: 'app', roomId: 'room', taskId: id })).toThrow(UnsafeIdError);
    expect(() => keys.latest({ appId: id, roomId: 'room', taskId: 't' })).toThrow(UnsafeIdError);
  });

  it('keeps "." and ".." (valid Volcengine ids) inside their prefix', () => {
    const dots = keys.latest({ appId: '..', roomId: '.', taskId: '..' });
    expect(dots).toBe('archive/tasks/~../~./~../latest.json');
    expect(dots.split('/').some((part) => part === '..' || part === '.')).toBe(false);
  });

  it('gives different tasks different keys, even when ids look alike', () => {
    const all = [
      { appId: 'a', roomId: 'b-c', taskId: 'd' },
      { appId: 'a-b', roomId: 'c', taskId: 'd' },
      { appId: 'a', roomId: 'b', taskId: 'c-d' },
      { appId: 'A', roomId: 'b', taskId: 'c-d' },
    ].map((a) => keys.latest(a));
    expect(new Set(all).size).toBe(all.length);
  });

  it('reads registry keys back and ignores anything else', () => {
    const address = { appId: 'app', roomId: '.', taskId: 'x@y.z' };
    const key = keys.registryEntry(1_795_000_000_000, address, true);
    expect(keys.parseRegistryEntry(key)).toEqual({ deadline: 1_795_000_000_000, provisional: true, address });
    expect(keys.parseRegistryEntry('archive/watch/1795000000000k/~a/~b/~c/extra')).toBeUndefined();
    expect(keys.parseRegistryEntry('archive/watch/1795000000000k/a/~b/~c')).toBeUndefined();
    expect(keys.parseRegistryEntry('other/watch/1795000000000k/~a/~b/~c')).toBeUndefined();
  });

  it('orders registry keys by deadline', () => {
    const a = keys.registryEntry(999, { appId: 'z', roomId: 'z', taskId: 'z' }, false);
    const b = keys.registryEntry(1_000, { appId: 'a', roomId: 'a', taskId: 'a' }, false);
    expect(a < b).toBe(true);
  });
});

describe('hostile ids on a real S3-protocol server', () => {
  let stack: ArchiveStack;
  beforeAll(async () => {
    stack = await startArchiveStack();
  });
  afterAll(() => stack.stop());

  it('stores ".", ".." and look-alike ids as separate tasks under the room', async () => {
    const ids = ['.', '..', '...', '.-', '@', 'a.b'];
    for (const [i, taskId] of ids.entries()) {
      await stack.archive.record({ appId: 'app', roomId: 'room', taskId }, { task: { Status: 2, Duration: i + 1 }, capturedAt: Date.UTC(2026, 10, 25), source: 'lookup', final: false });
    }
    for (const [i, taskId] of ids.entries()) {
      expect((await stack.archive.latest({ appId: 'app', roomId: 'room', taskId }))?.SegmentTask.Duration).toBe(i + 1);
    }
    const page = await stack.archive.tasksInRoom('app', 'room', 100, undefined);
    expect([...page.taskIds].sort()).toEqual([...ids].sort());
    const everything = [...(await stack.dump()).keys()];
    expect(everything.every((k) => k.startsWith('archive/tasks/~app/~room/'))).toBe(true);
  });
});
