/** The archiver's plan for one claimed entry: a pure function of the entry, the answer and the time. */
import { describe, expect, it } from 'vitest';
import {
  ANNOUNCED_START_TOLERANCE_MS,
  beforePoll,
  decide,
  dueAfterClaim,
  likelyEndedAfter,
  nextRefresh,
  observe,
  REFRESH_GRACE_MS,
  REFRESH_SHRINK,
  refreshInterval,
  REGISTRATION_GRACE_MS,
  showsReuse,
  waitsToAsk,
  type Observation,
} from '../../../lib/archive/decision.ts';
import type { RegistryEntry } from '../../../lib/archive/registry.ts';
import { WINDOW_MS } from '../../../lib/volc/schemas.ts';

const NOW = Date.UTC(2026, 11, 1, 12);
const MIN = 60_000;
const HOUR = 60 * MIN;
const policy = { finalMarginMs: 30 * MIN, unknownRetryMs: 15 * MIN, refreshMs: 20 * MIN, idleMarginMs: 2 * MIN };
const address = { appId: 'a', roomId: 'r', taskId: 'u1' };

const entry = (fields: Partial<RegistryEntry> & Pick<RegistryEntry, 'kind' | 'state'>): RegistryEntry => ({
  address,
  startTime: undefined,
  registeredAt: NOW - HOUR,
  via: 'lookup',
  deadline: NOW + HOUR,
  dueAt: NOW,
  lane: 'first',
  generation: 1,
  polledTick: NOW,
  claimedBy: 'request-1',
  claimedAt: NOW,
  refused: undefined,
  lastSeenAt: undefined,
  burstFrom: undefined,
  activity: undefined,
  askedTick: undefined,
  ...fields,
});
const known = (startTime: number) =>
  entry({ kind: 'run', state: 'known', startTime, deadline: startTime + WINDOW_MS, dueAt: NOW - MIN, lane: 'refresh' });
const announced = (startTime: number) =>
  entry({ kind: 'run', state: 'announced', startTime, deadline: startTime + WINDOW_MS, dueAt: startTime });
const pending = (registeredAt: number) => entry({ kind: 'pending', state: 'unknown', registeredAt, deadline: registeredAt + WINDOW_MS });
const shown = (StartTime: number, Status = 2, EndTime = 0): Observation => observe({ StartTime, Status, EndTime }, NOW);
const retry = NOW + policy.unknownRetryMs;
const refresh = { dueAt: NOW + policy.refreshMs, lane: 'refresh' };

describe('dueAfterClaim', () => {
  it('keeps a known run due (the next tick takes it again if this one dies), and puts anything waiting off for the retry interval', () => {
    const start = NOW - HOUR;
    expect(dueAfterClaim(known(start), NOW, policy)).toBe(NOW - MIN);
    expect(dueAfterClaim(announced(NOW - MIN), NOW, policy)).toBe(retry);
    expect(dueAfterClaim(pending(NOW - MIN), NOW, policy)).toBe(retry);
  });
});

describe('beforePoll', () => {
  it('lets an entry whose deadline passed end without asking: a known run unfinished, a registration unanswered', () => {
    expect(beforePoll(pending(NOW - MIN), NOW)).toBeUndefined();
    expect(beforePoll(pending(NOW - WINDOW_MS), NOW)).toEqual({ unanswered: { outcome: 'not-found' }, entry: { kind: 'retire' } });
    expect(beforePoll(announced(NOW - WINDOW_MS), NOW)).toEqual({ unanswered: { outcome: 'not-found' }, entry: { kind: 'retire' } });
    expect(beforePoll({ ...pending(NOW - WINDOW_MS), refused: { code: 'InvalidParameter', since: NOW - WINDOW_MS } }, NOW)).toEqual({
      unanswered: { outcome: 'refused', code: 'InvalidParameter' },
      entry: { kind: 'retire' },
    });
    expect(beforePoll(known(NOW - WINDOW_MS), NOW)).toEqual({
      unfinished: { startTime: NOW - WINDOW_MS, outcome: 'expired-without-final' },
      entry: { kind: 'retire' },
    });
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

describe('refreshInterval', () => {
  it('asks few runs again at the minimum interval, and spreads many over what the refresh share allows', () => {
    expect(refreshInterval(100, 6, 5 * MIN)).toBe(5 * MIN);
    expect(refreshInterval(3_700, 3, 5 * MIN)).toBe(Math.ceil((3_700 / 3) * 1000));
    expect(refreshInterval(0, 3, 5 * MIN)).toBe(5 * MIN);
  });
});

describe('nextRefresh', () => {
  it('asks a running run again after the refresh interval, in the refresh lane', () => {
    expect(nextRefresh(NOW + 10 * HOUR, NOW, policy)).toEqual(refresh);
  });

  it("counts the interval from the schedule tick the archiver run serves, so one schedule's interval is the next run", () => {
    const tick = NOW - 2 * MIN;
    expect(nextRefresh(NOW + 10 * HOUR, NOW, { ...policy, refreshMs: 5 * MIN, tick })).toEqual({ dueAt: tick + 5 * MIN, lane: 'refresh' });
    // A tick ahead of this instance's clock counts from the clock.
    expect(nextRefresh(NOW + 10 * HOUR, NOW, { ...policy, refreshMs: 5 * MIN, tick: NOW + MIN })).toMatchObject({ dueAt: NOW + 5 * MIN });
  });

  it('moves a run whose next ask, as late as a refresh may be, could fall inside the final margin to its start, in the ending lane', () => {
    // Refreshes every 20 min, read ahead of first asks 15 min after that: the next ask (+20) may come as late as +55. Window
    // closing at +60, margin from +30: it could fall in it; closing at +90 (margin from +60) it could not.
    expect(REFRESH_GRACE_MS).toBe(15 * MIN);
    expect(nextRefresh(NOW + 90 * MIN, NOW, policy)).toEqual(refresh);
    expect(nextRefresh(NOW + 85 * MIN, NOW, policy)).toEqual({ dueAt: NOW + 55 * MIN, lane: 'ending' });
    const deadline = NOW + 60 * MIN;
    expect(nextRefresh(deadline, NOW, policy)).toEqual({ dueAt: deadline - policy.finalMarginMs, lane: 'ending' });
  });

  it('asks on every tick inside the final margin, in the ending lane', () => {
    expect(nextRefresh(NOW + 20 * MIN, NOW, policy)).toEqual({ dueAt: NOW + 1, lane: 'ending' });
  });

  it('inside the final margin, is due after the tick when this clock runs behind it (the run counts it as reached)', () => {
    expect(nextRefresh(NOW + 20 * MIN, NOW, { ...policy, tick: NOW + 2_000 })).toEqual({ dueAt: NOW + 2_001, lane: 'ending' });
  });
});

describe('spaced asks of the runs of an app not seen reusing TaskIds', () => {
  // Refreshes every 5 minutes by the load; an app not seen reusing TaskIds is asked every 20.
  const spaced = { ...policy, refreshMs: 5 * MIN, noReuseRefreshMs: 20 * MIN, tick: NOW };
  const start = NOW - HOUR;
  const asked = (minutesAgo: number) => ({ ...known(start), askedTick: NOW - minutesAgo * MIN });

  it('lets a run asked less than the no-reuse interval of ticks ago wait, due again after the refresh interval', () => {
    expect(waitsToAsk(asked(15), NOW, spaced, false)).toEqual({
      entry: { kind: 'reschedule', change: { dueAt: NOW + 5 * MIN, lane: 'refresh' } },
    });
    expect(waitsToAsk(asked(20), NOW, spaced, false)).toBeUndefined();
  });

  it('is due again when the spacing runs out, when that comes before the next refresh', () => {
    const fifteen = { ...spaced, refreshMs: 15 * MIN };
    expect(waitsToAsk(asked(15), NOW, fifteen, false)).toEqual({
      entry: { kind: 'reschedule', change: { dueAt: NOW + 5 * MIN, lane: 'refresh' } },
    });
  });

  it('asks at once a run of an app that reuses TaskIds, or not known to, one never asked, or one in its ending lane', () => {
    expect(waitsToAsk(asked(5), NOW, spaced, true)).toBeUndefined();
    expect(waitsToAsk(asked(5), NOW, spaced, undefined)).toBeUndefined();
    expect(waitsToAsk(known(start), NOW, spaced, false)).toBeUndefined();
    expect(waitsToAsk({ ...asked(5), lane: 'ending' }, NOW, spaced, false)).toBeUndefined();
  });

  it('never waits when the no-reuse interval is not the longer (the option unset, or the load interval as long)', () => {
    expect(waitsToAsk(asked(5), NOW, policy, false)).toBeUndefined();
    expect(waitsToAsk(asked(5), NOW, { ...spaced, refreshMs: 20 * MIN }, false)).toBeUndefined();
  });

  it("keeps each ask's tick on the run, and on a run the archiver starts watching", () => {
    expect(decide(known(start), shown(start), NOW, spaced).entry).toEqual({
      kind: 'reschedule',
      change: { dueAt: NOW + 5 * MIN, lane: 'refresh', askedTick: NOW, intervalMs: 5 * MIN },
    });
    expect(decide(pending(NOW - MIN), shown(NOW - 5 * MIN), NOW, spaced).register).toEqual({
      startTime: NOW - 5 * MIN,
      due: { dueAt: NOW + 5 * MIN, lane: 'refresh', askedTick: NOW },
    });
    expect(decide(known(start), shown(start), NOW, { ...spaced, noReuseRefreshMs: undefined }).entry).toMatchObject({
      change: { dueAt: NOW + 5 * MIN, lane: 'refresh', askedTick: NOW },
    });
    // Without a schedule tick (a lookup's registration), none.
    expect(decide(known(start), shown(start), NOW, { ...spaced, tick: undefined }).entry).not.toHaveProperty('change.askedTick');
  });
});

describe('showsReuse', () => {
  it('is a newer run than the known one an entry watches, or a run before the one announced', () => {
    const start = NOW - HOUR;
    expect(showsReuse(known(start), shown(NOW - MIN))).toBe(true);
    expect(showsReuse(known(start), shown(start))).toBe(false);
    expect(showsReuse(announced(NOW + MIN), shown(NOW - 2 * HOUR, 3, NOW - HOUR))).toBe(true);
    expect(showsReuse(announced(NOW - MIN), shown(NOW - 2 * MIN))).toBe(false);
    expect(showsReuse(pending(NOW - MIN), shown(start))).toBe(false);
    expect(showsReuse(known(start), { kind: 'not-shown' })).toBe(false);
  });
});

describe("decide: a running run's interval after the load fell", () => {
  // The load now gives 5-minute refreshes; the run was last given 25 minutes (asked at the peak).
  const atLoad = { ...policy, refreshMs: 5 * MIN, tick: NOW };
  const start = NOW - HOUR;
  const given = (minutes: number) => ({ ...known(start), askedTick: NOW - minutes * MIN, dueAt: NOW, intervalMs: minutes * MIN });

  it('is at least REFRESH_SHRINK of the interval it was last given', () => {
    expect(REFRESH_SHRINK).toBe(0.9);
    expect(decide(given(25), shown(start), NOW, atLoad).entry).toEqual({
      kind: 'reschedule',
      change: { dueAt: NOW + 22.5 * MIN, lane: 'refresh', askedTick: NOW, intervalMs: 22.5 * MIN },
    });
  });

  it('reads the interval the ask recorded, not the tick: a tick left behind by an older ask gives none', () => {
    // Written before asks recorded their interval: an ask's tick 3 hours back, due now.
    const stale = { ...known(start), askedTick: NOW - 180 * MIN, dueAt: NOW + 25 * MIN };
    expect(decide(stale, shown(start), NOW, atLoad).entry).toMatchObject({ change: { dueAt: NOW + 5 * MIN } });
  });

  it('records the interval of a refresh counted from its tick, not when the ask came', () => {
    const late = decide(given(25), shown(start), NOW + 10 * MIN, atLoad).entry;
    expect(late).toMatchObject({ change: { dueAt: NOW + 22.5 * MIN, intervalMs: 22.5 * MIN } });
  });

  it('takes a longer interval from the load at once', () => {
    expect(decide(given(5), shown(start), NOW, { ...atLoad, refreshMs: 25 * MIN }).entry).toMatchObject({
      change: { dueAt: NOW + 25 * MIN, lane: 'refresh' },
    });
  });

  it("takes the load's interval for a run never asked before, and for one in its ending lane", () => {
    expect(decide(known(start), shown(start), NOW, atLoad).entry).toMatchObject({ change: { dueAt: NOW + 5 * MIN } });
    expect(decide({ ...given(25), lane: 'ending' }, shown(start), NOW, atLoad).entry).toMatchObject({ change: { dueAt: NOW + 5 * MIN } });
  });

  it('does not carry the spaced asks of an app not seen reusing TaskIds over to its runs once it is', () => {
    const spaced = { ...atLoad, noReuseRefreshMs: 20 * MIN };
    expect(decide(given(20), shown(start), NOW, spaced).entry).toMatchObject({ change: { dueAt: NOW + 5 * MIN } });
  });

  it('does not take the wait after a refused or unanswered ask for an interval: the run keeps the one it had', () => {
    const refused = decide(given(25), { kind: 'refused', code: 'InvalidParameter' }, NOW, atLoad).entry;
    expect(refused).toMatchObject({ change: { dueAt: NOW + policy.unknownRetryMs, lane: 'refresh', askedTick: NOW } });
    expect(refused).not.toHaveProperty('change.intervalMs');
    expect(decide(given(25), { kind: 'not-shown' }, NOW, atLoad).entry).not.toHaveProperty('change.intervalMs');
  });

  it('leaves no interval on a run moved to its ending lane', () => {
    const closing = { ...given(25), deadline: NOW + 40 * MIN };
    expect(decide(closing, shown(start), NOW, atLoad).entry).toMatchObject({ change: { lane: 'ending', intervalMs: null } });
  });
});

describe('decide: a known run', () => {
  it('archives the run and asks again after the refresh interval while it runs', () => {
    const start = NOW - HOUR;
    expect(decide(known(start), shown(start), NOW, policy)).toMatchObject({
      record: { startTime: start, final: false },
      entry: { kind: 'reschedule', change: refresh },
    });
  });

  it('retires it once its terminal state is stored', () => {
    const start = NOW - HOUR;
    expect(decide(known(start), shown(start, 3, NOW - MIN), NOW, policy)).toMatchObject({
      record: { startTime: start, final: true },
      entry: { kind: 'retire-if-terminal' },
    });
  });

  it('marks captures inside the final margin final, and keeps polling until the window closes (the run may still end)', () => {
    const start = NOW - WINDOW_MS + 20 * MIN;
    expect(decide(known(start), shown(start), NOW, policy)).toMatchObject({
      record: { final: true },
      entry: { kind: 'reschedule', change: { dueAt: NOW + 1, lane: 'ending' } },
    });
  });

  it('follows a newer run of its TaskId: archives and watches it, records the earlier one as superseded', () => {
    const start = NOW - 2 * HOUR;
    expect(decide(known(start), shown(NOW - MIN), NOW, policy)).toMatchObject({
      record: { startTime: NOW - MIN },
      register: { startTime: NOW - MIN, due: refresh },
      unfinished: { startTime: start, outcome: 'superseded' },
      entry: { kind: 'retire' },
    });
  });

  it('asks again in the ending lane when Volcengine shows no run shortly before its margin, as a late refresh could miss it', () => {
    // Window closing at +75, margin from +45: asked again at +15, as late as +50 (20 min interval, 15 min grace).
    const start = NOW + 75 * MIN - WINDOW_MS;
    expect(decide(known(start), { kind: 'not-shown' }, NOW, policy)).toEqual({
      entry: { kind: 'reschedule', change: { dueAt: retry, lane: 'ending' } },
    });
    expect(decide(known(start - HOUR), { kind: 'not-shown' }, NOW, policy).entry).toMatchObject({ change: { lane: 'ending' } });
    expect(decide(known(start + HOUR), { kind: 'not-shown' }, NOW, policy).entry).toMatchObject({ change: { lane: 'refresh' } });
  });

  it('asks again later, in its refresh lane, when Volcengine shows no run or an older one', () => {
    const start = NOW - HOUR;
    const later = { entry: { kind: 'reschedule', change: { dueAt: retry, lane: 'refresh' } } };
    expect(later.entry.change.lane).toBe('refresh');
    expect(decide(known(start), { kind: 'not-shown' }, NOW, policy)).toEqual(later);
    expect(decide(known(start), shown(start - HOUR), NOW, policy)).toEqual(later);
  });
});

describe('decide: an announced run', () => {
  it('waits for its run in the retry lane, and keeps waiting beside a run that started long before it', () => {
    const start = NOW + 10 * MIN;
    expect(decide(announced(start), { kind: 'not-shown' }, NOW, policy)).toMatchObject({
      entry: { kind: 'reschedule', change: { dueAt: retry, lane: 'retry' } },
    });
    expect(decide(announced(start), shown(start - ANNOUNCED_START_TOLERANCE_MS - MIN), NOW, policy)).toMatchObject({
      entry: { kind: 'reschedule' },
    });
    expect(decide(announced(start), shown(start - ANNOUNCED_START_TOLERANCE_MS - MIN), NOW, policy).record).toBeUndefined();
  });

  it('archives the end of the run before it when Volcengine still shows that one, ended', () => {
    const start = NOW + 10 * MIN;
    const before = start - 3 * HOUR;
    expect(decide(announced(start), shown(before, 3, NOW - 5 * MIN), NOW, policy)).toEqual({
      record: { startTime: before, task: expect.objectContaining({ StartTime: before, Status: 3 }), final: true },
      entry: { kind: 'reschedule', change: { dueAt: retry, lane: 'retry' } },
    });
  });

  it('becomes known when its run starts at the announced time', () => {
    const start = NOW - MIN;
    expect(decide(announced(start), shown(start), NOW, policy)).toMatchObject({
      record: { startTime: start },
      entry: { kind: 'reschedule', change: { ...refresh, state: 'known' } },
    });
  });

  it('hands over to its run when it starts a little earlier or later than announced', () => {
    const start = NOW - MIN;
    for (const actual of [start - ANNOUNCED_START_TOLERANCE_MS + MIN, start + 5 * MIN]) {
      expect(decide(announced(start), shown(actual), NOW, policy)).toMatchObject({
        record: { startTime: actual },
        register: { startTime: actual, due: refresh },
        entry: { kind: 'retire' },
      });
    }
  });
});

describe('decide: a pending registration', () => {
  it('hands over to the run Volcengine shows, or just archives it when it already ended', () => {
    expect(decide(pending(NOW - MIN), shown(NOW - 5 * MIN), NOW, policy)).toMatchObject({
      record: { startTime: NOW - 5 * MIN, final: false },
      register: { startTime: NOW - 5 * MIN, due: refresh },
      entry: { kind: 'retire' },
    });
    const ended = decide(pending(NOW - MIN), shown(NOW - HOUR, 3, NOW - 5 * MIN), NOW, policy);
    expect(ended).toMatchObject({ record: { final: true }, entry: { kind: 'retire' } });
    expect(ended.register).toBeUndefined();
  });

  it('is not resolved by a run that ended before it was registered', () => {
    const registeredAt = NOW - MIN;
    const old = shown(NOW - 3 * HOUR, 3, registeredAt - REGISTRATION_GRACE_MS - MIN);
    expect(decide(pending(registeredAt), old, NOW, policy)).toEqual({
      entry: { kind: 'reschedule', change: { dueAt: retry, lane: 'retry' } },
    });
  });
});

describe('decide: refusals and drift', () => {
  it('asks again later when Volcengine refuses to answer, keeping the refusal, and forgets it on an answer', () => {
    const refusal = decide(pending(NOW - MIN), { kind: 'refused', code: 'InvalidParameter.AccountIdMismatch' }, NOW, policy);
    expect(refusal).toEqual({
      entry: {
        kind: 'reschedule',
        change: { dueAt: retry, lane: 'retry', refused: { code: 'InvalidParameter.AccountIdMismatch', since: NOW } },
      },
    });
    const refused = { ...pending(NOW - MIN), refused: { code: 'InvalidParameter', since: NOW - HOUR } };
    expect(decide(refused, { kind: 'not-shown' }, NOW, policy)).toEqual({
      entry: { kind: 'reschedule', change: { dueAt: retry, lane: 'retry', refused: null } },
    });
  });

  it('leaves the entry as it is when the answer cannot be placed in time', () => {
    expect(decide(known(NOW - HOUR), { kind: 'drift', problem: 'no StartTime' }, NOW, policy)).toEqual({
      entry: { kind: 'leave', drift: 'no StartTime' },
    });
  });
});

describe('likelyEndedAfter', () => {
  it("is the run's MaxIdleTime (seconds) plus the margin, or Volcengine's default 180 s when the answer names none", () => {
    expect(likelyEndedAfter({ MaxIdleTime: 600 }, policy)).toBe(600_000 + policy.idleMarginMs);
    expect(likelyEndedAfter({}, policy)).toBe(180_000 + policy.idleMarginMs);
    expect(likelyEndedAfter({ MaxIdleTime: 0 }, policy)).toBe(180_000 + policy.idleMarginMs);
  });
});

describe('decide: a pending registration its callbacks keep naming (the activity watch)', () => {
  const ENDS_AFTER = 180_000 + policy.idleMarginMs;
  const sighted = (lastSeenAt: number, burstFrom = NOW - HOUR) => ({ ...pending(burstFrom), lastSeenAt, burstFrom });
  const watch = (lastSeenAt: number, burstFrom = NOW - HOUR, burstSeen = NOW - HOUR) => ({
    ...sighted(lastSeenAt, burstFrom),
    lane: 'ending' as const,
    activity: { burstSeen, endsAfterMs: ENDS_AFTER },
  });
  const running = (startTime = NOW - HOUR) => observe({ StartTime: startTime, Status: 2, MaxIdleTime: 180 }, NOW);

  it('becomes the watch once callbacks went on after its burst began, due when they will have been silent that long', () => {
    expect(decide(sighted(NOW - MIN), running(), NOW, policy)).toMatchObject({
      record: { startTime: NOW - HOUR },
      register: { startTime: NOW - HOUR },
      entry: {
        kind: 'reschedule',
        change: { dueAt: NOW - MIN + ENDS_AFTER, lane: 'ending', activity: { burstSeen: NOW - HOUR, endsAfterMs: ENDS_AFTER } },
      },
    });
  });

  it('is retired when one callback named it (no more), none within that long, or none ever (WatchSegmentTask)', () => {
    expect(decide(sighted(NOW - MIN, NOW - MIN), running(), NOW, policy).entry).toEqual({ kind: 'retire' });
    expect(decide(sighted(NOW - ENDS_AFTER), running(), NOW, policy).entry).toEqual({ kind: 'retire' });
    expect(decide(pending(NOW - MIN), running(), NOW, policy).entry).toEqual({ kind: 'retire' });
  });

  it('sleeps without asking while its callbacks go on, until they will have been silent that long', () => {
    expect(beforePoll(watch(NOW - MIN), NOW)).toEqual({ entry: { kind: 'reschedule', change: { dueAt: NOW - MIN + ENDS_AFTER } } });
    expect(beforePoll(watch(NOW - ENDS_AFTER), NOW)).toBeUndefined();
  });

  it('is asked about at once when a new burst of callbacks began (a new run of a reused TaskId, probably)', () => {
    expect(beforePoll(watch(NOW - MIN, NOW - 3 * MIN), NOW)).toBeUndefined();
  });

  it('archives the ended run final and is retired', () => {
    const ended = observe({ StartTime: NOW - HOUR, Status: 3, EndTime: NOW - 2 * MIN }, NOW);
    expect(decide(watch(NOW - 6 * MIN), ended, NOW, policy)).toMatchObject({ record: { final: true }, entry: { kind: 'retire' } });
  });

  it('is retired when its run still runs though the callbacks stopped (its refreshes go on)', () => {
    expect(decide(watch(NOW - ENDS_AFTER), running(), NOW, policy).entry).toEqual({ kind: 'retire' });
  });

  it('stays the watch, with the burst it saw, beside the same run or a newer one after a new burst', () => {
    const change = { dueAt: NOW - MIN + ENDS_AFTER, lane: 'ending', activity: { burstSeen: NOW - 3 * MIN, endsAfterMs: ENDS_AFTER } };
    for (const run of [running(), running(NOW - 4 * MIN)])
      expect(decide(watch(NOW - MIN, NOW - 3 * MIN), run, NOW, policy).entry).toEqual({ kind: 'reschedule', change });
  });

  it('waits as a registration again when Volcengine shows no run, or refuses to answer', () => {
    expect(decide(watch(NOW - MIN), { kind: 'not-shown' }, NOW, policy).entry).toEqual({
      kind: 'reschedule',
      change: { dueAt: retry, lane: 'retry', activity: null },
    });
    expect(decide(watch(NOW - MIN), { kind: 'refused', code: 'InvalidParameter' }, NOW, policy).entry).toMatchObject({
      change: { lane: 'retry', activity: null },
    });
  });

  it('is retired at its deadline without a not-found record: its address had runs', () => {
    expect(beforePoll({ ...watch(NOW - MIN), deadline: NOW }, NOW)).toEqual({ entry: { kind: 'retire' } });
  });
});
