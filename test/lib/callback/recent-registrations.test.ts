/** The callback's memo of recent registrations: fresh for a minute, bounded, in-flight writes shared. */
import { describe, expect, it } from 'vitest';
import { RecentRegistrations } from '../../../lib/callback/recent-registrations.ts';

const address = (taskId: string) => ({ appId: 'app', roomId: 'room', taskId });
const T = 1_800_000_000_000;

describe('RecentRegistrations', () => {
  it('writes the first time, skips for a minute after the write, and writes again from the 60th second', async () => {
    const recent = new RecentRegistrations();
    let writes = 0;
    const write = async () => void writes++;
    const results = [];
    for (const at of [T, T + 1, T + 59_999, T + 60_000, T + 60_001]) results.push(await recent.registerOnce(address('a'), at, write));
    expect(results).toEqual([true, false, false, true, false]);
    expect(writes).toBe(2);
  });

  it('keeps at most maxEntries addresses, forgetting the least recently written first', async () => {
    const recent = new RecentRegistrations(3);
    for (const id of ['a', 'b', 'c', 'd']) await recent.registerOnce(address(id), T, async () => undefined);
    expect(recent.size).toBe(3);
    expect(['a', 'b', 'c', 'd'].map((id) => recent.isFresh(address(id), T + 1))).toEqual([false, true, true, true]);
  });

  it('shares a write in flight, and remembers nothing when it fails (the next delivery writes)', async () => {
    const recent = new RecentRegistrations();
    let release!: (error?: Error) => void;
    const slow = new Promise<void>((resolve, reject) => (release = (error) => (error ? reject(error) : resolve())));
    let writes = 0;
    const first = recent.registerOnce(address('a'), T, () => {
      writes++;
      return slow;
    });
    const second = recent.registerOnce(address('a'), T, async () => void writes++);
    release(new Error('throttled'));
    await expect(first).rejects.toThrow('throttled');
    await expect(second).rejects.toThrow('throttled');
    expect(writes).toBe(1);
    expect(recent.isFresh(address('a'), T)).toBe(false);
    expect(await recent.registerOnce(address('a'), T + 1, async () => void writes++)).toBe(true);
    expect(writes).toBe(2);
  });

  it('does not take a clock that went back for a fresh write', async () => {
    const recent = new RecentRegistrations();
    await recent.registerOnce(address('a'), T, async () => undefined);
    expect(recent.isFresh(address('a'), T - 1)).toBe(false);
  });
});
