import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveKeys, UnsafeIdError, timeDigits } from '../../../lib/archive/keys.ts';
import { startArchiveStack, type ArchiveStack } from '../../support/archive-stack.ts';

const keys = new ArchiveKeys('archive/');
const START = 1_795_000_000_000;

describe('ArchiveKeys', () => {
  it.each(['a/b', '../x', '', 'x'.repeat(129), 'a b', 'a\nb', '名', '%2e%2e', 'a\\b', 'a~b'])('refuses the id %j', (id) => {
    expect(() => keys.latest({ appId: 'app', roomId: 'room', taskId: id, startTime: START })).toThrow(UnsafeIdError);
    expect(() => keys.latest({ appId: id, roomId: 'room', taskId: 't', startTime: START })).toThrow(UnsafeIdError);
  });

  it('keeps "." and ".." (valid Volcengine ids) inside their prefix', () => {
    const dots = keys.latest({ appId: '..', roomId: '.', taskId: '..', startTime: START });
    expect(dots).toBe('archive/tasks/~../~./~../runs/1795000000000/latest.json');
    expect(dots.split('/').some((part) => part === '..' || part === '.')).toBe(false);
  });

  it('gives different tasks different keys, even when ids look alike', () => {
    const all = [
      { appId: 'a', roomId: 'b-c', taskId: 'd' },
      { appId: 'a-b', roomId: 'c', taskId: 'd' },
      { appId: 'a', roomId: 'b', taskId: 'c-d' },
      { appId: 'A', roomId: 'b', taskId: 'c-d' },
    ].map((a) => keys.latest({ ...a, startTime: START }));
    expect(new Set(all).size).toBe(all.length);
  });

  it("gives every run of a task its own keys, and lists a task's runs newest first", () => {
    const address = { appId: 'a', roomId: 'b', taskId: 'u1' };
    expect(keys.latest({ ...address, startTime: START })).not.toBe(keys.latest({ ...address, startTime: START + 1 }));
    const older = keys.runIndexEntry({ ...address, startTime: START });
    const newer = keys.runIndexEntry({ ...address, startTime: START + 3_600_000 });
    expect(newer < older).toBe(true);
    expect(keys.parseRunIndexEntry(newer, 'a', 'b')).toEqual({ taskId: 'u1', startTime: START + 3_600_000 });
    expect(keys.parseRunIndexEntry(newer, 'a', 'c')).toBeUndefined();
  });

  it('refuses a time that does not fit 13 digits instead of writing a key nobody can read', () => {
    expect(timeDigits(START)).toBe('1795000000000');
    for (const bad of [-1, 1.5, 10_000_000_000_000, Number.NaN]) expect(() => timeDigits(bad)).toThrow(RangeError);
    expect(() =>
      keys.registryEntry({
        deadline: 99_999_999_999_999,
        state: 'known',
        nextPollAt: 0,
        address: { appId: 'a', roomId: 'b', taskId: 'c' },
      }),
    ).toThrow(RangeError);
  });

  it('reads registry keys back and ignores anything else', () => {
    const address = { appId: 'app', roomId: '.', taskId: 'x@y.z' };
    for (const state of ['known', 'announced', 'unknown'] as const) {
      const fields = { deadline: START, state, nextPollAt: START - 5, address };
      expect(keys.parseRegistryEntry(keys.registryEntry(fields))).toEqual(fields);
    }
    expect(keys.parseRegistryEntry('archive/watch/1795000000000k/0000000000000/~a/~b/~c/extra')).toBeUndefined();
    expect(keys.parseRegistryEntry('archive/watch/1795000000000k/0000000000000/a/~b/~c')).toBeUndefined();
    expect(keys.parseRegistryEntry('archive/watch/1795000000000x/0000000000000/~a/~b/~c')).toBeUndefined();
    expect(keys.parseRegistryEntry('archive/watch/1795000000000k/~a/~b/~c')).toBeUndefined();
    expect(keys.parseRegistryEntry('other/watch/1795000000000k/0000000000000/~a/~b/~c')).toBeUndefined();
  });

  it('orders registry keys by deadline', () => {
    const a = keys.registryEntry({ deadline: 999, state: 'unknown', nextPollAt: 5_000, address: { appId: 'z', roomId: 'z', taskId: 'z' } });
    const b = keys.registryEntry({ deadline: 1_000, state: 'known', nextPollAt: 0, address: { appId: 'a', roomId: 'a', taskId: 'a' } });
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
      await stack.archive.record(
        { appId: 'app', roomId: 'room', taskId, startTime: START },
        { task: { Status: 2, Duration: i + 1 }, capturedAt: Date.UTC(2026, 10, 25), source: 'lookup', final: false },
      );
    }
    for (const [i, taskId] of ids.entries()) {
      expect((await stack.archive.latest({ appId: 'app', roomId: 'room', taskId, startTime: START }))?.SegmentTask.Duration).toBe(i + 1);
    }
    const page = await stack.archive.runsInRoom('app', 'room', 100, undefined);
    expect(page.runs.map((r) => r.taskId).sort()).toEqual([...ids].sort());
    expect(page.runs.every((r) => r.startTime === START)).toBe(true);
    const everything = [...(await stack.dump()).keys()];
    expect(everything.every((k) => k.startsWith('archive/tasks/~app/~room/') || k.startsWith('archive/runs/~app/~room/'))).toBe(true);
  });
});
