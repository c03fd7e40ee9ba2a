/** The watch registry on a real S3-protocol server: one entry per address, and a new run watched again after retirement. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WINDOW_MS } from '../../../lib/task.ts';
import { startArchiveStack, type ArchiveStack } from '../../support/archive-stack.ts';

const NOW = Date.UTC(2026, 11, 1, 12);
let stack: ArchiveStack;
beforeAll(async () => {
  stack = await startArchiveStack('registry/');
});
afterAll(() => stack.stop());

const entriesOf = async (taskId: string) => {
  const found = [];
  for await (const entry of stack.registry.entries()) if (entry.address.taskId === taskId) found.push(entry);
  return found;
};

describe('WatchRegistry', () => {
  it('keeps one entry when many registrations of one address race, whatever their kind', async () => {
    const address = { appId: 'a', roomId: 'r', taskId: 'race' };
    const outcomes = await Promise.all([
      ...Array.from({ length: 8 }, () => stack.registry.register(address, undefined, 'callback', NOW)),
      stack.registry.register(address, NOW - 60_000, 'lookup', NOW),
      stack.registry.register(address, NOW + 60_000, 'watch', NOW),
    ]);
    expect(outcomes.filter((o) => o === 'registered')).toHaveLength(1);
    expect(await entriesOf('race')).toHaveLength(1);
  });

  it('keeps registration time, next poll time and deadline apart, by what is known of the StartTime', async () => {
    const start = NOW - 3_600_000;
    await stack.registry.register({ appId: 'a', roomId: 'r', taskId: 'k' }, start, 'lookup', NOW);
    await stack.registry.register({ appId: 'a', roomId: 'r', taskId: 'n' }, start, 'watch', NOW);
    await stack.registry.register({ appId: 'a', roomId: 'r', taskId: 'p' }, undefined, 'callback', NOW);
    expect(await entriesOf('k')).toMatchObject([{ state: 'known', deadline: start + WINDOW_MS, nextPollAt: 0 }]);
    expect(await entriesOf('n')).toMatchObject([{ state: 'announced', deadline: start + WINDOW_MS, nextPollAt: NOW }]);
    await stack.registry.register({ appId: 'a', roomId: 'r', taskId: 'ahead' }, NOW + 3_600_000, 'watch', NOW);
    expect(await entriesOf('ahead')).toMatchObject([
      { state: 'announced', deadline: NOW + 3_600_000 + WINDOW_MS, nextPollAt: NOW + 3_600_000 },
    ]);
    expect(await entriesOf('p')).toMatchObject([{ state: 'unknown', deadline: NOW + WINDOW_MS, nextPollAt: NOW }]);
    const [entry] = await entriesOf('p');
    const moved = await stack.registry.move(entry!, { state: 'unknown', nextPollAt: NOW + 900_000 }, NOW);
    expect(moved).toMatchObject({ deadline: NOW + WINDOW_MS, nextPollAt: NOW + 900_000 });
    const body = (await stack.store.getJson(moved.key))?.body;
    expect(body).toMatchObject({
      State: 'unknown',
      RegisteredAt: new Date(NOW).toISOString(),
      Via: 'callback',
      NextPollAt: new Date(NOW + 900_000).toISOString(),
    });
    expect(await entriesOf('p')).toHaveLength(1);
  });

  it('watches an address again once its entry was retired (a TaskId reused for a new run)', async () => {
    const address = { appId: 'a', roomId: 'r', taskId: 'reused' };
    expect(await stack.registry.register(address, NOW - 7_200_000, 'lookup', NOW)).toBe('registered');
    expect(await stack.registry.register(address, undefined, 'callback', NOW)).toBe('already-watched');
    await stack.registry.retire((await entriesOf('reused'))[0]!);
    expect(await entriesOf('reused')).toHaveLength(0);
    expect(await stack.registry.register(address, undefined, 'callback', NOW + 60_000)).toBe('registered');
    expect(await entriesOf('reused')).toMatchObject([{ state: 'unknown' }]);
  });
});
