/**
 * Scenarios for the capacity simulation, generated with a seed: the lifecycle cases users meet
 * daily (a TaskId reused for new runs, registrations that never become tasks, registrations
 * before the start) and load above the archiver's capacity. Used by the tests and `npm run bench`.
 */
import type { ScenarioEvent, ScenarioTask } from '../../simulation/scenario.ts';
import { seeded } from '../../simulation/scheduler.ts';

export interface ScenarioInput {
  hours: number;
  scheduleMinutes?: number;
  archiveTimeoutSeconds?: number;
  accountQps?: number;
  env?: Record<string, string>;
  faults?: Partial<{ seed: number; duplicateSchedule: number; crashPerStoreCall: number; storeErrorRate: number; clockSkewMs: number }>;
  tasks: Array<Partial<ScenarioTask> & Pick<ScenarioTask, 'AppId' | 'RoomId' | 'TaskId' | 'StartAt' | 'EndAt'>>;
  events: ScenarioEvent[];
}

const minutes = (value: number) => Math.round(value * 100) / 100;

/**
 * Auto segmentation: `users` users leave and rejoin a room, each run under their UserId; callbacks and lookups name them.
 * `callbackEveryMinutes`: a callback that often while each run runs (Volcengine sends one per segment), instead of one after its start.
 */
export function taskIdReuse(users: number, runsPerUser: number, seed = 1, callbackEveryMinutes?: number): ScenarioInput {
  const rand = seeded(seed);
  const tasks: ScenarioInput['tasks'] = [];
  const events: ScenarioEvent[] = [];
  for (let u = 0; u < users; u++) {
    const ids = { AppId: 'app', RoomId: `room-${u % 20}`, TaskId: `user-${u}` };
    let at = rand() * 120;
    for (let r = 0; r < runsPerUser; r++) {
      const start = minutes(at);
      const end = minutes(start + 10 + rand() * 180);
      tasks.push({
        ...ids,
        StartAt: start,
        EndAt: end,
        StopReason: 'UserDisconnect',
        Changes: rand() < 0.3 ? [{ At: minutes((start + end) / 2), Duration: 30 }] : [],
      });
      for (let at = start + 0.5; at < end; at += callbackEveryMinutes ?? Number.POSITIVE_INFINITY)
        events.push({ ...ids, Kind: 'callback', At: minutes(at) });
      events.push({ ...ids, Kind: 'lookup', At: minutes(start + rand() * (end - start)) });
      events.push({ ...ids, Kind: 'lookup', At: minutes(end + rand() * 30) }); // between runs: the finished run
      at = end + 5 + rand() * 240;
    }
  }
  return { hours: 100, tasks, events };
}

/**
 * Many apps, each reusing TaskIds for the first time: `apps` apps of `users` users, each user
 * running `runsPerUser` runs of 10–100 min under one TaskId with gaps of 11–19 min between them,
 * one callback after each start and one lookup while it runs. No app is known to reuse TaskIds
 * until one of its TaskIds shows a second run: what a longer refresh minimum, or spacing the asks
 * of apps not seen reusing TaskIds, costs in ends lost.
 */
export function appsReusingTaskIds(apps: number, users: number, runsPerUser: number, seed = 11): ScenarioInput {
  const rand = seeded(seed);
  const tasks: ScenarioInput['tasks'] = [];
  const events: ScenarioEvent[] = [];
  for (let a = 0; a < apps; a++)
    for (let u = 0; u < users; u++) {
      const ids = { AppId: `app-${a}`, RoomId: `room-${a}`, TaskId: `user-${u}` };
      let at = rand() * 60;
      for (let r = 0; r < runsPerUser; r++) {
        const end = at + 10 + rand() * 90;
        tasks.push({ ...ids, StartAt: minutes(at), EndAt: minutes(end), StopReason: 'UserDisconnect' });
        events.push({ ...ids, Kind: 'callback', At: minutes(at + 0.5) });
        events.push({ ...ids, Kind: 'lookup', At: minutes(at + rand() * (end - at)) });
        at = end + 11 + rand() * 8;
      }
    }
  return { hours: 30, tasks, events };
}

/** `count` registrations that never become tasks (WatchSegmentTask and callbacks of unknown tasks), beside a few real tasks. */
export function ghosts(count: number, seed = 2): ScenarioInput {
  const rand = seeded(seed);
  const events: ScenarioEvent[] = [];
  for (let i = 0; i < count; i++) {
    events.push({
      AppId: 'app',
      RoomId: `ghost-room-${i % 50}`,
      TaskId: `ghost-${i}`,
      Kind: i % 3 === 0 ? 'callback' : 'watch',
      At: minutes(rand() * 600),
    });
  }
  const tasks: ScenarioInput['tasks'] = [];
  for (let i = 0; i < 100; i++) {
    const ids = { AppId: 'app', RoomId: 'real-room', TaskId: `real-${i}` };
    const start = minutes(rand() * 1200);
    tasks.push({ ...ids, StartAt: start, EndAt: rand() < 0.1 ? null : minutes(start + 5 + rand() * 600) });
    events.push({ ...ids, Kind: 'callback', At: minutes(start + 1) });
  }
  return { hours: 100, tasks, events };
}

/** WatchSegmentTask with a StartTime announced hours ahead; most tasks start within minutes of it, some never. */
export function registrationBeforeStart(count: number, seed = 3): ScenarioInput {
  const rand = seeded(seed);
  const tasks: ScenarioInput['tasks'] = [];
  const events: ScenarioEvent[] = [];
  for (let i = 0; i < count; i++) {
    const ids = { AppId: 'app', RoomId: `room-${i % 10}`, TaskId: `planned-${i}` };
    const announced = minutes(60 + rand() * 600);
    events.push({ ...ids, Kind: 'watch', At: minutes(Math.max(0, announced - 30 - rand() * 300)), StartTime: announced });
    if (rand() < 0.9) {
      const start = minutes(announced - 5 + rand() * 10);
      tasks.push({ ...ids, StartAt: start, EndAt: rand() < 0.05 ? null : minutes(start + 10 + rand() * 300) });
    }
  }
  return { hours: 100, tasks, events };
}

/** More concurrently running tasks than the archiver can poll in one run at ARCHIVE_QPS. */
export function aboveCapacity(count: number, archiveQps: number, seed = 4, archiveTimeoutSeconds?: number): ScenarioInput {
  const rand = seeded(seed);
  const tasks: ScenarioInput['tasks'] = [];
  const events: ScenarioEvent[] = [];
  for (let i = 0; i < count; i++) {
    const ids = { AppId: 'app', RoomId: `busy-${i % 40}`, TaskId: `busy-${i}` };
    const start = minutes(rand() * 240);
    const long = rand() < 0.3;
    tasks.push({ ...ids, StartAt: start, EndAt: long ? null : minutes(start + 30 + rand() * 1800) });
    events.push({ ...ids, Kind: 'callback', At: minutes(start + 1) });
  }
  return {
    hours: 100,
    env: { ARCHIVE_QPS: String(archiveQps) },
    tasks,
    events,
    ...(archiveTimeoutSeconds ? { archiveTimeoutSeconds } : {}),
  };
}

/**
 * Runs announced ahead while another run of the TaskId is watched: each user's running run is
 * discovered by a callback; while it runs, WatchSegmentTask announces the user's next run (most
 * start within five minutes of the announced time, some never); lookups ask during both runs.
 */
export function announcedWhileWatched(users: number, seed = 5): ScenarioInput {
  const rand = seeded(seed);
  const tasks: ScenarioInput['tasks'] = [];
  const events: ScenarioEvent[] = [];
  for (let u = 0; u < users; u++) {
    const ids = { AppId: 'app', RoomId: `room-${u % 10}`, TaskId: `user-${u}` };
    const start = minutes(rand() * 600);
    const end = minutes(start + 30 + rand() * 210);
    tasks.push({ ...ids, StartAt: start, EndAt: end, StopReason: 'UserDisconnect' });
    events.push({ ...ids, Kind: 'callback', At: minutes(start + 0.5) });
    const announced = minutes(end + 5 + rand() * 115);
    const watchAt = minutes(start + 1 + rand() * (end - start - 2));
    events.push({ ...ids, Kind: 'watch', At: watchAt, StartTime: announced });
    events.push({ ...ids, Kind: 'lookup', At: minutes(watchAt + rand() * (end - watchAt)) });
    if (rand() < 0.9) {
      const next = minutes(announced - 5 + rand() * 10);
      const nextEnd = minutes(next + 20 + rand() * 280);
      tasks.push({ ...ids, StartAt: next, EndAt: nextEnd, StopReason: 'UserDisconnect' });
      events.push({ ...ids, Kind: 'callback', At: minutes(next + 0.5) });
      events.push({ ...ids, Kind: 'lookup', At: minutes(next + rand() * (nextEnd - next)) });
    }
  }
  return { hours: 100, tasks, events };
}

/** Runs that end in the last half hour of their 72-hour window (long MaxIdleTime tasks), each found by a callback. */
export function endingNearWindowClose(count: number, seed = 6): ScenarioInput {
  const rand = seeded(seed);
  const tasks: ScenarioInput['tasks'] = [];
  const events: ScenarioEvent[] = [];
  for (let i = 0; i < count; i++) {
    const ids = { AppId: 'app', RoomId: `long-${i % 20}`, TaskId: `long-${i}` };
    const start = minutes(rand() * 1_500);
    const end = minutes(start + 72 * 60 - 2 - rand() * 28);
    tasks.push({ ...ids, StartAt: start, EndAt: end, StopReason: 'IdleTimeOut' });
    events.push({ ...ids, Kind: 'callback', At: minutes(start + 1) });
  }
  return { hours: 100, tasks, events };
}

/** The fault values of the archive-state issue: duplicate schedules, crashes after store calls, store errors and clock skew. */
export const ISSUE_FAULTS = { seed: 7, duplicateSchedule: 0.1, crashPerStoreCall: 0.005, storeErrorRate: 0.01, clockSkewMs: 2_000 };

export const withFaults = (input: ScenarioInput, faults: ScenarioInput['faults'] = ISSUE_FAULTS): ScenarioInput => ({ ...input, faults });

/**
 * Runs arriving evenly for `hours` (a Poisson stream of `runsPerHour`), each lasting an
 * exponential time of mean `meanMinutes` (at least one), named `{prefix}-{i}` in `rooms` rooms.
 */
function* poissonRuns(
  rand: () => number,
  options: { runsPerHour: number; hours: number; meanMinutes: number; prefix: string; rooms: number },
) {
  const { runsPerHour, hours, meanMinutes, prefix, rooms } = options;
  let at = 0;
  for (let i = 0; ; i++) {
    at += (-Math.log(1 - rand()) * 60) / runsPerHour;
    if (at >= hours * 60) return;
    const ids = { AppId: 'app', RoomId: `${prefix}-${i % rooms}`, TaskId: `${prefix}-${i}` };
    const start = minutes(at);
    const end = minutes(start + Math.max(1, -Math.log(1 - rand()) * meanMinutes));
    yield { ids, start, end };
  }
}

/**
 * The archive-at-scale issue's capacity shape: poissonRuns, each discovered by one callback half a
 * minute after it starts; an account quota of `accountQps` of which the archiver may use
 * `archiveQps`. The simulation runs `tailHours` longer. Used by `npm run bench -- capacity`.
 * @public
 */
export function capacity(
  options: { runsPerHour: number; hours: number; meanMinutes?: number; accountQps?: number; archiveQps?: number; tailHours?: number },
  seed = 8,
): ScenarioInput {
  const { runsPerHour, hours, meanMinutes = 60, accountQps = 8, archiveQps = 6, tailHours = 3 } = options;
  const tasks: ScenarioInput['tasks'] = [];
  const events: ScenarioEvent[] = [];
  for (const { ids, start, end } of poissonRuns(seeded(seed), { runsPerHour, hours, meanMinutes, prefix: 'cap', rooms: 500 })) {
    tasks.push({ ...ids, StartAt: start, EndAt: end, StopReason: 'UserDisconnect' });
    events.push({ ...ids, Kind: 'callback', At: minutes(start + 0.5) });
  }
  return { hours: hours + tailHours, accountQps, env: { ARCHIVE_QPS: String(archiveQps) }, tasks, events };
}

/**
 * poissonRuns, each sending a SegmentRealTimeData callback every `everySeconds` while it runs (one
 * per segment file: every 20 s with auto segmentation), from half a minute after its start.
 */
export function segmentStream(options: { runsPerHour: number; hours: number; meanMinutes: number; everySeconds?: number }, seed = 9) {
  const { runsPerHour, hours, meanMinutes, everySeconds = 20 } = options;
  const tasks: ScenarioInput['tasks'] = [];
  const events: ScenarioEvent[] = [];
  for (const { ids, start, end } of poissonRuns(seeded(seed), { runsPerHour, hours, meanMinutes, prefix: 'stream', rooms: 100 })) {
    tasks.push({ ...ids, StartAt: start, EndAt: end, StopReason: 'UserDisconnect' });
    for (let t = start + 0.5; t < end; t += everySeconds / 60) events.push({ ...ids, Kind: 'callback', At: minutes(t) });
  }
  return { hours: hours + 2, tasks, events } satisfies ScenarioInput;
}

/**
 * Lookups of runs that arrive evenly for `hours` (exponential durations of mean `meanMinutes`):
 * `live` lookups each at a random moment while the run runs (Volcengine shows it: the first one
 * registers it), or `archived`: one lookup each 73–74 hours after its start, once Volcengine no
 * longer shows it (the archive answers; a callback discovered each run).
 */
export function lookupsOf(
  kind: 'live' | 'archived',
  options: { runs: number; hours: number; meanMinutes: number; perRun?: number },
  seed = 10,
) {
  const { runs, hours, meanMinutes, perRun = 3 } = options;
  const rand = seeded(seed);
  const tasks: ScenarioInput['tasks'] = [];
  const events: ScenarioEvent[] = [];
  for (let i = 0; i < runs; i++) {
    const ids = { AppId: 'app', RoomId: `looked-${i % 100}`, TaskId: `looked-${i}` };
    const start = minutes(rand() * hours * 60);
    const end = minutes(start + Math.max(1, -Math.log(1 - rand()) * meanMinutes));
    tasks.push({ ...ids, StartAt: start, EndAt: end, StopReason: 'UserDisconnect' });
    if (kind === 'live')
      for (let n = 0; n < perRun; n++) events.push({ ...ids, Kind: 'lookup', At: minutes(start + rand() * (end - start)) });
    else {
      events.push({ ...ids, Kind: 'callback', At: minutes(start + 0.5) });
      events.push({ ...ids, Kind: 'lookup', At: minutes(start + 73 * 60 + rand() * 60) });
    }
  }
  return { hours: kind === 'live' ? hours + 4 : hours + 75, tasks, events } satisfies ScenarioInput;
}
