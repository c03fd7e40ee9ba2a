/**
 * The lookup's answer logic, directly: against the capacity simulation's model of Volcengine
 * (an implementation of the upstream port) and the in-memory object store (of the store port).
 */
import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../../simulation/memory-object-store.ts';
import { ArchiveKeys, SegmentArchive } from '../../../lib/archive/segment-archive.ts';
import { MemoryRegistry } from '../../../simulation/memory-registry.ts';
import { allEntries } from '../../../lib/archive/registry.ts';
import { SegmentTaskLookup } from '../../../lib/lookup/segment-task-lookup.ts';
import { atMinute, ScenarioTaskSchema } from '../../../simulation/scenario.ts';
import { steppedClock, VolcengineModel } from '../../../simulation/volcengine-model.ts';
import { WINDOW_MS } from '../../../lib/volc/schemas.ts';
import { deadlineIn } from '../../../lib/deadline.ts';

const address = { appId: 'a', roomId: 'r', taskId: 'u1' };
/** Each lookup's own deadline, as an invocation makes it. */
const inTime = () => deadlineIn(1_000, new AbortController().signal);
const run = (StartAt: number, EndAt: number | null) => ScenarioTaskSchema.parse({ AppId: 'a', RoomId: 'r', TaskId: 'u1', StartAt, EndAt });

function lookupOver(runs: ReturnType<typeof run>[], minute: number, terminalTtlMs = 30_000) {
  const clock = steppedClock(atMinute(minute));
  const model = new VolcengineModel(runs, clock, 60);
  const access = { archive: new SegmentArchive(new MemoryObjectStore(), new ArchiveKeys('')), registry: new MemoryRegistry() };
  const lookup = new SegmentTaskLookup({
    upstream: model.port(),
    deadlineMs: 1_000,
    cacheEntries: 100,
    terminalTtlMs,
    openArchive: async () => access,
    now: () => clock.now,
  });
  return { lookup, clock, model, access };
}

describe('SegmentTaskLookup', () => {
  it('answers the running run live and registers it for watching with its StartTime', async () => {
    const { lookup, access } = lookupOver([run(10, null)], 20);
    const answer = await lookup.get('2023-11-01', address, undefined, inTime());
    expect(answer).toMatchObject({ source: 'volcengine', task: { StartTime: atMinute(10), Status: 2 } });
    const entries = [];
    for await (const entry of allEntries(access.registry)) entries.push(entry);
    expect(entries).toMatchObject([{ kind: 'run', startTime: atMinute(10), state: 'known', deadline: atMinute(10) + WINDOW_MS }]);
  });

  it('archives a terminal answer, remembers it for the TTL only, and then asks again', async () => {
    const { lookup, clock, model, access } = lookupOver([run(10, 30)], 40);
    expect((await lookup.get('2023-11-01', address, undefined, inTime())).source).toBe('volcengine');
    expect((await access.archive.latest({ ...address, startTime: atMinute(10) }))?.Final).toBe(true);
    expect((await lookup.get('2023-11-01', address, undefined, inTime())).source).toBe('cache');
    expect((await lookup.get('2022-06-01', address, undefined, inTime())).source).toBe('volcengine'); // another Version, another key
    clock.now += 30_001;
    const calls = model.calls;
    expect((await lookup.get('2023-11-01', address, undefined, inTime())).source).toBe('volcengine');
    expect(model.calls).toBe(calls + 1);
  });

  it('answers from the archive, newest run first, when Volcengine no longer shows the task', async () => {
    const first = run(10, 30);
    const second = run(60, 90);
    const { lookup, clock } = lookupOver([first, second], 100, 0);
    await lookup.get('2023-11-01', address, undefined, inTime()); // archives the second run (terminal)
    clock.now = atMinute(60) + WINDOW_MS + 60_000; // both runs are older than 72 h now
    const answer = await lookup.get('2023-11-01', address, undefined, inTime());
    expect(answer).toMatchObject({ source: 'archive', task: { StartTime: atMinute(60), Status: 3 } });
    const older = await lookup.get('2023-11-01', address, atMinute(10), inTime());
    expect(older).toMatchObject({ source: 'volcengine', task: undefined }); // the first run was never archived
  });

  it('shares one upstream call among concurrent lookups of one run', async () => {
    const { lookup, model } = lookupOver([run(10, 30)], 40, 0);
    const answers = await Promise.all(Array.from({ length: 20 }, () => lookup.get('2023-11-01', address, undefined, inTime())));
    expect(model.calls).toBe(1);
    expect(new Set(answers.map((a) => a.task?.StartTime))).toEqual(new Set([atMinute(10)]));
  });
});
