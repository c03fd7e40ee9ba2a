/** A run's timeline on a real S3-protocol server: every change once, in capture order, whoever writes it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateHash } from '../../../lib/archive/segment-archive.ts';
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

  it("orders observations by Volcengine's data, not the writers' clocks: a terminal state from a slower clock is kept", async () => {
    const r = run('skew');
    // The archiver captured the run running; a lookup whose clock is 5 s behind saw it finished.
    await stack.archive.record(r, observe(20, 10_000));
    const terminal = {
      task: { StartTime: START, Status: 3, Duration: 20 },
      capturedAt: START + 5_000,
      source: 'lookup' as const,
      final: true,
    };
    expect((await stack.archive.record(r, terminal)).outcome).toBe('written');
    // A slower writer's running capture after the end changes nothing.
    expect(await stack.archive.record(r, observe(20, 20_000))).toMatchObject({
      outcome: 'unchanged',
      latest: { SegmentTask: { Status: 3 } },
    });
    expect((await stack.archive.timeline(r)).map((s) => [s.SegmentTask.Status, s.Final])).toEqual([
      [2, false],
      [3, true],
    ]);
  });

  it('keeps a capture after a final one final', async () => {
    const r = run('final');
    await stack.archive.record(r, observe(20, 1, true));
    const changed = await stack.archive.record(r, observe(30, 2, false));
    expect(changed).toMatchObject({ outcome: 'written', latest: { Final: true, SegmentTask: { Duration: 30 } } });
  });

  it('compares with the newest timeline entry: a state that returns after an entry latest.json missed is logged', async () => {
    const r = run('orphan');
    await stack.archive.record(r, observe(20, 1));
    const first = await stack.archive.latest(r);
    // A writer appended entry 2 (a change) and failed before moving latest.json to it.
    const orphan = {
      ...first!,
      Seq: 2,
      CapturedAt: new Date(START + 2).toISOString(),
      SegmentTask: { ...first!.SegmentTask, Duration: 30 },
    };
    await stack.store.putJson(stack.keys.timelineEntry(r, 2), { ...orphan, StateHash: stateHash(orphan.SegmentTask) });
    // The run returned to the state of entry 1: an append, not "unchanged".
    expect((await stack.archive.record(r, observe(20, 3))).outcome).toBe('written');
    expect((await stack.archive.timeline(r)).map((s) => [s.Seq, s.SegmentTask.Duration])).toEqual([
      [1, 20],
      [2, 30],
      [3, 20],
    ]);
    expect(await stack.archive.latest(r)).toMatchObject({ Seq: 3 });
    // And an observation equal to the orphan itself adds nothing but rolls latest.json forward.
    const second = run('orphan-same');
    await stack.archive.record(second, observe(20, 1));
    const base = await stack.archive.latest(second);
    const same = { ...base!, Seq: 2, SegmentTask: { ...base!.SegmentTask, Duration: 30 } };
    await stack.store.putJson(stack.keys.timelineEntry(second, 2), { ...same, StateHash: stateHash(same.SegmentTask) });
    expect((await stack.archive.record(second, observe(30, 3))).outcome).toBe('unchanged');
    expect(await stack.archive.latest(second)).toMatchObject({ Seq: 2, SegmentTask: { Duration: 30 } });
  });

  it('lists a run only once it has a snapshot: a failed first write leaves the older run the newest listed', async () => {
    const address = { appId: 'a', roomId: 'r', taskId: 'index' };
    const older = { ...address, startTime: START };
    const newer = { ...address, startTime: START + 3_600_000 };
    await stack.archive.record(older, { ...observe(20, 1), task: { StartTime: START, Status: 3 }, final: true });
    stack.s3.inject({ kind: 'http5xx', operation: 'PUT', keyContains: '/timeline/', times: 10 });
    await expect(stack.archive.record(newer, { ...observe(20, 2), task: { StartTime: newer.startTime, Status: 2 } })).rejects.toThrow();
    stack.s3.clearFaults();
    expect(await stack.archive.namedOrNewestRun(address, undefined)).toEqual(older);
  });

  it('records why a run ended unfinished once, however often its retirement is retried', async () => {
    const r = run('unfinished');
    await stack.archive.record(r, observe(20, 1));
    expect(await stack.archive.markUnfinished(r, 'superseded', START + 10)).toBe(true);
    expect(await stack.archive.markUnfinished(r, 'superseded', START + 20)).toBe(false);
    const done = run('finished');
    await stack.archive.record(done, observe(20, 1, true));
    expect(await stack.archive.markUnfinished(done, 'expired-without-final', START + 10)).toBe(false);
  });

  it('pages a long timeline by Seq, and cuts a page short when its time is up', async () => {
    const r = run('long');
    for (let i = 0; i < 7; i++) await stack.archive.record(r, observe(20 + i, i + 1));
    const first = await stack.archive.timelinePage(r, { pageSize: 3 });
    expect(first.snapshots.map((s) => s.Seq)).toEqual([1, 2, 3]);
    const second = await stack.archive.timelinePage(r, { pageSize: 3, after: first.next });
    expect(second.snapshots.map((s) => s.Seq)).toEqual([4, 5, 6]);
    const last = await stack.archive.timelinePage(r, { pageSize: 3, after: second.next });
    expect(last).toMatchObject({ next: undefined });
    expect(last.snapshots.map((s) => s.Seq)).toEqual([7]);
    // Reads slower than the page's time: the page ends with what came in time, in order, and says where to go on. The
    // slow read takes three times the page's time and the others a loopback round trip, so a busy machine changes nothing.
    stack.s3.inject({ kind: 'latency', operation: 'GET', latencyMs: 3_000, keyContains: '00000003.json' });
    const cut = await stack.archive.timelinePage(r, { pageSize: 5, signal: AbortSignal.timeout(1_000) });
    stack.s3.clearFaults();
    expect(cut.snapshots.map((s) => s.Seq)).toEqual([1, 2]);
    expect(cut.next).toBe(2);
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

  it('tells whether a task has a run other than the one named, the newest or an older one (a reused TaskId)', async () => {
    const address = { appId: 'a', roomId: 'reuse', taskId: 'u1' };
    const first = { ...address, startTime: START };
    expect(await stack.archive.hasOtherRun(first)).toBe(false);
    await stack.archive.record(first, observe(20, 1));
    expect(await stack.archive.hasOtherRun(first)).toBe(false);
    const second = { ...address, startTime: START + 3_600_000 };
    expect(await stack.archive.hasOtherRun(second)).toBe(true);
    await stack.archive.record(second, { ...observe(20, 1), capturedAt: second.startTime + 1 });
    expect(await stack.archive.hasOtherRun(second)).toBe(true);
    expect(await stack.archive.hasOtherRun(first)).toBe(true);
    expect(await stack.archive.hasOtherRun({ ...address, taskId: 'u10', startTime: START })).toBe(false);
  });

  it('marks an app as reusing TaskIds once, and no other app', async () => {
    expect(await stack.archive.reusesTaskIds('reuser')).toBe(false);
    await stack.archive.markReusesTaskIds({ appId: 'reuser', roomId: 'r', taskId: 'u' }, START);
    await stack.archive.markReusesTaskIds({ appId: 'reuser', roomId: 'r', taskId: 'v' }, START + 1);
    expect(await stack.archive.reusesTaskIds('reuser')).toBe(true);
    expect(await stack.archive.reusesTaskIds('reuse')).toBe(false);
  });
});
