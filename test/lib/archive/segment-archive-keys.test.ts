import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveKeys, UnsafeIdError, timeDigits } from '../../../lib/archive/segment-archive.ts';
import { addressKey, entrySortKey, parseAddressKey, parseEntrySortKey } from '../../../lib/archive/registry.ts';
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
    expect(() => keys.latest({ appId: 'a', roomId: 'b', taskId: 'c', startTime: 99_999_999_999_999 })).toThrow(RangeError);
  });
});

describe('registry keys', () => {
  it('reads an entry key back, and refuses ids and times it could not read back', () => {
    const address = { appId: 'app', roomId: '.', taskId: 'x@y.z' };
    expect(parseAddressKey(addressKey(address))).toEqual(address);
    expect(parseEntrySortKey(entrySortKey({ kind: 'run', startTime: START }))).toEqual({ kind: 'run', startTime: START });
    expect(parseEntrySortKey(entrySortKey({ kind: 'pending', startTime: undefined }))).toEqual({ kind: 'pending', startTime: undefined });
    for (const bad of ['a/b', '', 'a b', '名']) expect(() => addressKey({ ...address, taskId: bad })).toThrow(RangeError);
    expect(() => entrySortKey({ kind: 'run', startTime: 1.5 })).toThrow(RangeError);
    for (const key of ['a/b', 'a/b/c/d', 'a//c', 'a/b/c d']) expect(parseAddressKey(key)).toBeUndefined();
    for (const key of ['run#123', 'run#17950000000000', 'pending#1', 'tick']) expect(parseEntrySortKey(key)).toBeUndefined();
  });

  it("orders a task's runs by StartTime, its pending registration apart", () => {
    const older = entrySortKey({ kind: 'run', startTime: START });
    const newer = entrySortKey({ kind: 'run', startTime: START + 1 });
    expect(older < newer).toBe(true);
    expect(entrySortKey({ kind: 'pending', startTime: undefined })).toBe('pending');
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
    const everything = [];
    for await (const key of stack.store.keys('')) everything.push(key);
    expect(everything.every((k) => k.startsWith('archive/tasks/~app/~room/') || k.startsWith('archive/runs/~app/~room/'))).toBe(true);
  });
});
