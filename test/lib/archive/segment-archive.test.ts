/** A run's timeline on a real S3-protocol server: every change once, in capture order, whoever writes it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startArchiveStack, type ArchiveStack } from '../../support/archive-stack.ts';

const START = Date.UTC(2026, 11, 1, 8);
let stack: ArchiveStack;
beforeAll(async () => {
  stack = await startArchiveStack('timeline/');
});
afterAll(() => stack.stop());

const run = (taskId: string) => ({ appId: 'a', roomId: 'r', taskId, startTime: START });
const observe = (duration: number, at: number, final = false) => ({
  task: { StartTime: START, Status: 2, Duration: duration },
  capturedAt: START + at,
  source: 'archiver' as const,
  final,
});

describe('SegmentArchive timeline', () => {
  it('appends a returning state and a final capture of an unchanged state, and nothing for a repeat', async () => {
    const r = run('back');
    const outcomes = [];
    for (const [duration, at, final] of [
      [20, 1],
      [20, 2],
      [30, 3],
      [20, 4],
      [20, 5, true],
      [20, 6, true],
    ] as Array<[number, number, boolean?]>) {
      outcomes.push((await stack.archive.record(r, observe(duration, at, final))).outcome);
    }
    expect(outcomes).toEqual(['written', 'unchanged', 'written', 'written', 'written', 'unchanged']);
    const timeline = await stack.archive.timeline(r);
    expect(timeline.map((s) => [s.Seq, s.SegmentTask.Duration, s.Final])).toEqual([
      [1, 20, false],
      [2, 30, false],
      [3, 20, false],
      [4, 20, true],
    ]);
    expect(await stack.archive.latest(r)).toMatchObject({ Seq: 4, Final: true });
  });

  it('writes one entry when overlapping writers record the same change', async () => {
    const r = run('overlap');
    await stack.archive.record(r, observe(20, 1));
    const results = await Promise.all(Array.from({ length: 6 }, () => stack.archive.record(r, observe(30, 2))));
    expect(results.filter((x) => x.outcome === 'written').length).toBeGreaterThanOrEqual(1);
    expect(results.every((x) => x.latest.SegmentTask.Duration === 30)).toBe(true);
    expect((await stack.archive.timeline(r)).map((s) => s.SegmentTask.Duration)).toEqual([20, 30]);
  });

  it('ignores an observation older than the stored one, and reports what is stored', async () => {
    const r = run('stale');
    await stack.archive.record(r, observe(30, 10));
    const stale = await stack.archive.record(r, observe(20, 5, true));
    expect(stale).toMatchObject({ outcome: 'unchanged', latest: { Final: false, SegmentTask: { Duration: 30 } } });
  });

  it('rolls latest.json forward over an entry a crashed writer appended, and appends after it', async () => {
    const r = run('crash');
    await stack.archive.record(r, observe(20, 1));
    const first = await stack.archive.latest(r);
    // A writer appended entry 2 and crashed before moving latest.json.
    await stack.store.putJson(stack.keys.timelineEntry(r, 2), {
      ...first,
      Seq: 2,
      CapturedAt: new Date(START + 2).toISOString(),
      SegmentTask: { ...first!.SegmentTask, Duration: 25 },
      StateHash: 'a'.repeat(64),
    });
    const next = await stack.archive.record(r, observe(30, 3));
    expect(next.outcome).toBe('written');
    expect((await stack.archive.timeline(r)).map((s) => [s.Seq, s.SegmentTask.Duration])).toEqual([
      [1, 20],
      [2, 25],
      [3, 30],
    ]);
  });

  it('lists runs of a task newest first and finds the latest one', async () => {
    const address = { appId: 'a', roomId: 'runs', taskId: 'u1' };
    for (const start of [START, START + 7_200_000, START + 3_600_000]) {
      await stack.archive.record({ ...address, startTime: start }, { ...observe(20, 1), capturedAt: start + 1 });
    }
    expect(await stack.archive.namedOrNewestRun(address, undefined)).toEqual({ ...address, startTime: START + 7_200_000 });
    expect(await stack.archive.namedOrNewestRun(address, START)).toEqual({ ...address, startTime: START });
    expect(await stack.archive.namedOrNewestRun({ ...address, taskId: 'none' }, undefined)).toBeUndefined();
    const page = await stack.archive.runsInRoom('a', 'runs', 10, undefined);
    expect(page.runs.map((x) => x.startTime)).toEqual([START + 7_200_000, START + 3_600_000, START]);
  });
});
