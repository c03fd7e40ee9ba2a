/** The archiver's decision for one entry: a pure function of the entry, the answer and the time. */
import { describe, expect, it } from 'vitest';
import { beforePoll, decide, observe, ANNOUNCED_START_TOLERANCE_MS, REGISTRATION_GRACE_MS } from '../../../lib/archive/decision.ts';
import type { RegistryKeyFields } from '../../../lib/archive/keys.ts';
import { WINDOW_MS } from '../../../lib/task.ts';

const NOW = Date.UTC(2026, 11, 1, 12);
const SECONDS_INTO_A_RUN = 42_000;
const MIN = 60_000;
const policy = { finalMarginMs: 30 * MIN, unknownRetryMs: 15 * MIN };
const address = { appId: 'a', roomId: 'r', taskId: 'u1' };
const known = (startTime: number, nextPollAt = 0): RegistryKeyFields => ({
  address,
  state: 'known',
  deadline: startTime + WINDOW_MS,
  nextPollAt,
});
const announced = (startTime: number, nextPollAt = NOW): RegistryKeyFields => ({
  address,
  state: 'announced',
  deadline: startTime + WINDOW_MS,
  nextPollAt,
});
const unknown = (registeredAt: number, nextPollAt = NOW): RegistryKeyFields => ({
  address,
  state: 'unknown',
  deadline: registeredAt + WINDOW_MS,
  nextPollAt,
});
const shown = (StartTime: number, Status = 2, EndTime = 0) => observe({ StartTime, Status, EndTime }, NOW);

describe('beforePoll', () => {
  it('skips an entry that is not due, and expires one whose deadline passed without polling it', () => {
    expect(beforePoll(unknown(NOW - MIN, NOW + MIN), NOW)).toEqual({ kind: 'skip' });
    expect(beforePoll(unknown(NOW - MIN, NOW), NOW)).toEqual({ kind: 'poll' });
    expect(beforePoll(unknown(NOW - WINDOW_MS), NOW)).toEqual({ kind: 'expire', outcome: 'not-found' });
    expect(beforePoll(announced(NOW - WINDOW_MS), NOW)).toEqual({ kind: 'expire', outcome: 'not-found' });
    expect(beforePoll(known(NOW - WINDOW_MS), NOW)).toEqual({ kind: 'expire', outcome: 'window-closed' });
  });
});

describe('observe', () => {
  it('takes an answer without StartTime, or with one that is not epoch ms, as schema drift', () => {
    expect(observe(undefined, NOW)).toEqual({ kind: 'not-shown' });
    expect(observe({ Status: 2 }, NOW).kind).toBe('drift');
    expect(observe({ StartTime: Math.floor(NOW / 1000), Status: 2 }, NOW).kind).toBe('drift');
    expect(observe({ StartTime: NOW * 10, Status: 2 }, NOW).kind).toBe('drift');
    expect(observe({ StartTime: NOW - MIN, Status: 2 }, NOW).kind).toBe('shown');
  });
});

describe('decide', () => {
  it('follows a known run, final when terminal or inside the final margin', () => {
    const start = NOW - HOURS(1);
    expect(decide(known(start), shown(start), NOW, policy)).toMatchObject({
      kind: 'observe',
      startTime: start,
      final: false,
      target: { state: 'known', nextPollAt: 0 },
    });
    expect(decide(known(start), shown(start, 3, NOW), NOW, policy)).toMatchObject({ kind: 'observe', final: true });
    const old = NOW - WINDOW_MS + 29 * MIN;
    expect(decide(known(old), shown(old), NOW, policy)).toMatchObject({ kind: 'observe', final: true });
  });

  it('moves a known entry to a newer run of the same TaskId, superseding the earlier run', () => {
    const first = NOW - HOURS(5);
    const second = NOW - HOURS(1);
    const decision = decide(known(first), shown(second), NOW, policy);
    expect(decision).toMatchObject({
      kind: 'observe',
      startTime: second,
      superseded: first,
      target: { state: 'known', startTime: second },
    });
    // An older run than the one known is not this entry's run: wait.
    expect(decide(known(second), shown(first), NOW, policy)).toMatchObject({
      kind: 'wait',
      target: { state: 'known', startTime: second, nextPollAt: NOW + 15 * MIN },
    });
  });

  it('waits for an announced run and takes a run starting near its StartTime', () => {
    expect(decide(announced(NOW + HOURS(3)), { kind: 'not-shown' }, NOW, policy)).toMatchObject({
      kind: 'wait',
      target: { state: 'announced', nextPollAt: NOW + 15 * MIN },
    });
    const early = NOW - ANNOUNCED_START_TOLERANCE_MS + 1;
    expect(decide(announced(NOW), shown(early), NOW, policy)).toMatchObject({
      kind: 'observe',
      startTime: early,
      target: { state: 'known' },
    });
    // A run that ended hours before the announced start is an earlier run, not this one.
    expect(decide(announced(NOW), shown(NOW - HOURS(3), 3, NOW - HOURS(2)), NOW, policy)).toMatchObject({ kind: 'wait' });
  });

  it('takes the shown run for a registration without StartTime, unless it ended well before the registration', () => {
    const registeredAt = NOW - MIN;
    expect(decide(unknown(registeredAt), shown(NOW - HOURS(1)), NOW, policy)).toMatchObject({
      kind: 'observe',
      target: { state: 'known' },
    });
    const endedJustBefore = registeredAt - REGISTRATION_GRACE_MS + 1;
    expect(decide(unknown(registeredAt), shown(NOW - HOURS(1), 3, endedJustBefore), NOW, policy)).toMatchObject({
      kind: 'observe',
      final: true,
    });
    const endedLongBefore = registeredAt - HOURS(1);
    expect(decide(unknown(registeredAt), shown(NOW - HOURS(2), 3, endedLongBefore), NOW, policy)).toEqual({
      kind: 'wait',
      target: { state: 'unknown', startTime: undefined, nextPollAt: NOW + 15 * MIN },
    });
  });

  it('asks again no sooner than ARCHIVE_UNKNOWN_RETRY_MS after the last ask', () => {
    expect(decide(unknown(NOW - MIN), { kind: 'not-shown' }, NOW + SECONDS_INTO_A_RUN + 0.5, policy)).toMatchObject({
      kind: 'wait',
      target: { nextPollAt: NOW + SECONDS_INTO_A_RUN + 15 * MIN + 1 },
    });
  });

  it('keeps an entry whose answer drifted, changing nothing', () => {
    expect(decide(known(NOW - MIN), observe({ StartTime: 1, Status: 2 }, NOW), NOW, policy)).toMatchObject({ kind: 'keep' });
  });
});

function HOURS(n: number): number {
  return n * 3_600_000;
}
