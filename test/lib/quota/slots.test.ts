/** The quota's decisions, apart from any store: slot spacing, work-conserving plans, fleet time. */
import { describe, expect, it } from 'vitest';
import {
  applyTake,
  joinPushMs,
  planTakes,
  ratchetOffset,
  slotSpacingMs,
  DEFAULT_TIMING,
  type PlanContext,
  type QuotaState,
} from '../../../lib/quota/slots.ts';

const NOW = 1_000_000;
const spacing = { lookup: slotSpacingMs(48, { lateMs: 10, networkMs: 80 }), archiver: slotSpacingMs(12, { lateMs: 10, networkMs: 80 }) };
const context = (extra: Partial<PlanContext> = {}): PlanContext => ({
  role: 'lookup',
  now: NOW,
  leadMs: 5,
  lateMs: 10,
  latest: NOW + 250,
  marginMs: 50,
  spacing,
  ...extra,
});
const plan = (state: QuotaState, extra: Partial<PlanContext> = {}) => planTakes(state, context(extra))[0];

describe('slot arithmetic', () => {
  it('spaces a share so that a second at Volcengine gathers at most its rate, calls late and delayed included', () => {
    expect(spacing.lookup * 48).toBe(1090);
    expect(1000 / slotSpacingMs(60, DEFAULT_TIMING)).toBeCloseTo(54.55, 2); // the account's ceiling with the defaults
    // Fleet time that may lag the fastest clock's by 10 ms (QUOTA_CLOCK_MS) spaces the slots by that too.
    expect(slotSpacingMs(48, { lateMs: 10, networkMs: 80, clockMs: 10 }) * 48).toBe(1100);
  });

  it("lets a lookup take the archiver's reserve ahead of time only while the archiver has no due work", () => {
    const busyLookups = { lookup: NOW + 240, archiver: NOW + 100 };
    expect(plan(busyLookups)).toMatchObject({ share: 'archiver', op: 'advance', at: NOW + 100, whenNoDemand: true });
    expect(plan({ ...busyLookups, demand: NOW + 500 })).toBeUndefined(); // the archiver has due work: refused
    expect(plan({ ...busyLookups, demand: NOW - 1 })).toMatchObject({ share: 'archiver' }); // its marker went stale
    // A slot of the reserve that would idle (its frontier in the past) is taken whatever the marker says.
    expect(plan({ lookup: NOW + 240, archiver: NOW - 10, demand: NOW + 500 })).toMatchObject({ share: 'archiver', op: 'restart' });
  });

  it('lets the archiver take lookup slots only when lookups leave them idle', () => {
    const archiver = { role: 'archiver' as const, latest: NOW + 5_000 };
    expect(plan({ lookup: NOW + 10, archiver: NOW + 2_000 }, archiver)).toMatchObject({ share: 'lookup', at: NOW + 10 });
    expect(plan({ lookup: NOW + 200, archiver: NOW + 2_000 }, archiver)).toMatchObject({ share: 'archiver', at: NOW + 2_000 });
  });

  it('keeps a random margin before the latest slot, and refuses what the state rules out', () => {
    expect(plan({ lookup: NOW + 190, archiver: NOW + 300 })).toMatchObject({ share: 'lookup', at: NOW + 190 });
    expect(plan({ lookup: NOW + 210, archiver: NOW + 300 })).toBeUndefined(); // within the 50 ms margin
    expect(plan({ lookup: NOW + 210, archiver: NOW + 300 }, { marginMs: 0 })).toMatchObject({ at: NOW + 210 });
  });

  it('restarts an idle share when the write is back, and prefers a slot the call can still make', () => {
    expect(plan({})).toMatchObject({ share: 'lookup', op: 'restart', at: NOW + 5 });
    // The lookup frontier lies so near that its slot passes before the answer (lead 30 ms, late 10 ms): the idle
    // archiver slot, restarted when the answer is back, is taken instead.
    expect(plan({ lookup: NOW + 2, archiver: NOW - 50 }, { leadMs: 30 })).toMatchObject({ share: 'archiver', op: 'restart', at: NOW + 30 });
    // All there is:
    expect(plan({ lookup: NOW + 2, archiver: NOW + 1_000 }, { leadMs: 30 })).toMatchObject({ share: 'lookup', at: NOW + 2 });
  });

  it('applies a take to the state seen: frontier moved by the span, stamp and demand written', () => {
    const seen = { lookup: NOW + 100, archiver: NOW + 10_000, stamp: NOW - 5 };
    const taken = planTakes(seen, context())[0]!;
    expect(applyTake(seen, taken, 20, NOW, NOW + 1_000)).toEqual({
      lookup: NOW + 120,
      archiver: NOW + 10_000,
      stamp: NOW,
      demand: NOW + 1_000,
    });
  });
});

describe('fleet time', () => {
  it('raises the offset to every stamp seen, never lowers it', () => {
    expect(ratchetOffset(0, NOW + 300, NOW)).toBe(300); // a clock 300 ms behind learns the fleet's time
    expect(ratchetOffset(300, NOW, NOW)).toBe(300); // an older stamp teaches nothing
    expect(ratchetOffset(300, undefined, NOW)).toBe(300);
  });

  it('moves the frontiers on joining by as much as the clock may lead the last stamp, within the skew allowed', () => {
    expect(joinPushMs(undefined, NOW, 500)).toBe(0);
    expect(joinPushMs(NOW - 3, NOW, 500)).toBe(3); // a busy share: a few ms
    expect(joinPushMs(NOW - 300, NOW, 500)).toBe(300);
    expect(joinPushMs(NOW - 60_000, NOW, 500)).toBe(500);
    expect(joinPushMs(NOW + 10, NOW, 500)).toBe(0);
  });
});
