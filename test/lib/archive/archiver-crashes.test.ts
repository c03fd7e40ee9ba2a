/**
 * An archiver invocation killed between any two store calls (the call applied, or not) loses and
 * duplicates nothing: after the next ticks, the archive and the registry hold what a run that was
 * never killed leaves. Every transition kind is in play (a run followed, one ending, a pending
 * registration resolved, an announced run starting, a run superseded, a registration and a run
 * whose deadlines passed). Each crash point is tried; the stores are the in-memory ones, held to the
 * same contract as S3 and DynamoDB by their fidelity tests.
 */
import { describe, expect, it } from 'vitest';
import { buildArchiver } from '../../../lib/archive/build.ts';
import { MemoryObjectStore } from '../../../simulation/memory-object-store.ts';
import { MemoryRegistry } from '../../../simulation/memory-registry.ts';
import { keysOf, type ObjectStore } from '../../../lib/archive/object-store.ts';
import { allEntries, type WatchRegistry } from '../../../lib/archive/registry.ts';
import { ArchiveKeys, SegmentArchive } from '../../../lib/archive/segment-archive.ts';
import { archiverSettings } from '../../../lib/config.ts';
import type { SegmentTaskUpstream } from '../../../lib/upstream.ts';
import { atMinute, ScenarioTaskSchema } from '../../../simulation/scenario.ts';
import { steppedClock, VolcengineModel } from '../../../simulation/volcengine-model.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = atMinute(80 * 60); // 80 h into the virtual epoch: room for runs that started 72 h ago
const address = (taskId: string) => ({ appId: 'a', roomId: 'r', taskId });
const minutesBefore = (minutes: number) => (T0 - minutes * MINUTE - atMinute(0)) / MINUTE;
const task = (taskId: string, startedMinutesAgo: number, endedMinutesAgo: number | null) =>
  ScenarioTaskSchema.parse({
    AppId: 'a',
    RoomId: 'r',
    TaskId: taskId,
    StartAt: minutesBefore(startedMinutesAgo),
    EndAt: endedMinutesAgo === null ? null : minutesBefore(endedMinutesAgo),
  });

const TASKS = [
  task('running', 60, null),
  task('ends', 120, 2),
  task('pending', 10, null),
  task('announced', 1, null),
  task('superseded', 180, 30),
  task('superseded', 5, null),
  task('closed', 72 * 60 + 1, null),
];

/**
 * The archive function's settings, one call at a time (an entry's store calls come in one order)
 * and a second per call; its stores and Volcengine are the test's (the bucket and table are named
 * only because the settings need them).
 */
const SETTINGS = archiverSettings({
  VOLC_ACCESS_KEY_ID: 'AKLTCRASHTEST',
  VOLC_SECRET_ACCESS_KEY: 'crash-test',
  ARCHIVE_BUCKET: 'crash-test',
  REGISTRY_TABLE: 'crash-test',
  ARCHIVE_CONCURRENCY: '1',
  ARCHIVE_CALL_TIMEOUT_MS: '1000',
});

/** Kills the invocation at its `at`-th store call: the call is applied or not, and nothing after it happens. */
class Crasher {
  calls = 0;
  readonly crashed: Promise<void>;
  #crash!: () => void;

  constructor(
    readonly at: number | undefined,
    readonly applied: boolean,
  ) {
    this.crashed = new Promise((resolve) => (this.#crash = resolve));
  }

  async call<T>(operation: () => Promise<T>): Promise<T> {
    if (++this.calls !== this.at) return operation();
    if (this.applied) await operation();
    this.#crash();
    return new Promise<never>(() => undefined);
  }
}

function crashing(store: ObjectStore, registry: WatchRegistry, crasher: Crasher): { store: ObjectStore; registry: WatchRegistry } {
  const call = <T>(operation: () => Promise<T>) => crasher.call(operation);
  const wrappedStore: ObjectStore = {
    getJson: (key) => call(() => store.getJson(key)),
    putJson: (key, value, condition) => call(() => store.putJson(key, value, condition)),
    delete: (key) => call(() => store.delete(key)),
    listPage: (prefix, options) => call(() => store.listPage(prefix, options)),
    keys: (prefix) => keysOf(wrappedStore, prefix),
  };
  const wrappedRegistry: WatchRegistry = {
    registerRun: (...args) => call(() => registry.registerRun(...args)),
    registerPending: (...args) => call(() => registry.registerPending(...args)),
    continueSighting: (...args) => call(() => registry.continueSighting(...args)),
    beginTick: (...args) => call(() => registry.beginTick(...args)),
    renewTick: (...args) => call(() => registry.renewTick(...args)),
    endTick: (...args) => call(() => registry.endTick(...args)),
    duePage: (...args) => call(() => registry.duePage(...args)),
    claim: (...args) => call(() => registry.claim(...args)),
    reschedule: (...args) => call(() => registry.reschedule(...args)),
    retire: (...args) => call(() => registry.retire(...args)),
    dueCount: (...args) => call(() => registry.dueCount(...args)),
    entriesPage: (...args) => call(() => registry.entriesPage(...args)),
  };
  return { store: wrappedStore, registry: wrappedRegistry };
}

/**
 * One archiver invocation over `stores` (wrapped to die at `crasher`'s call), at the clock's time
 * for `tick` as `owner`; resolves when it ends or dies.
 */
async function invoke(
  stores: { store: ObjectStore; registry: WatchRegistry },
  crasher: Crasher,
  upstream: SegmentTaskUpstream,
  clock: { now: number },
  tick: number,
  owner: string,
): Promise<void> {
  const { run } = buildArchiver(SETTINGS, {
    access: { registry: stores.registry, archive: new SegmentArchive(stores.store, new ArchiveKeys('')) },
    upstream,
    now: () => clock.now,
  });
  const running = run({ tick, owner, timeLeftMs: () => Number.POSITIVE_INFINITY, safetyMs: 0 });
  await Promise.race([running, crasher.crashed]);
}

/** The registry as the test sets it up: every kind of entry, each due at T0. */
async function seeded(): Promise<MemoryRegistry> {
  const registry = new MemoryRegistry();
  await registry.registerRun(address('running'), atMinute(minutesBefore(60)), 'lookup', T0 - HOUR);
  await registry.registerRun(address('ends'), atMinute(minutesBefore(120)), 'lookup', T0 - HOUR);
  await registry.registerPending(address('pending'), 'callback', T0 - 9 * MINUTE);
  await registry.registerRun(address('announced'), atMinute(minutesBefore(1)), 'watch', T0 - HOUR);
  await registry.registerRun(address('superseded'), atMinute(minutesBefore(180)), 'lookup', T0 - 2 * HOUR);
  await registry.registerPending(address('ghost'), 'callback', T0 - 72 * HOUR - MINUTE);
  await registry.registerRun(address('closed'), atMinute(minutesBefore(72 * 60 + 1)), 'lookup', T0 - 72 * HOUR);
  return registry;
}

/**
 * Invocations in order on one set of stores, each [minutes after T0, tick (minutes after T0), owner];
 * the first killed at its `crashAt`-th store call. Answers what is left, and the first one's calls.
 */
async function invocations(plan: Array<[at: number, tick: number, owner: string]>, crashAt: number | undefined, applied: boolean) {
  const clock = steppedClock(T0);
  const model = new VolcengineModel(TASKS, clock, 1_000);
  const objects = new MemoryObjectStore();
  const registry = await seeded();
  const keys = new ArchiveKeys('');
  let firstCalls = 0;
  for (const [i, [at, tick, owner]] of plan.entries()) {
    clock.now = T0 + at * MINUTE;
    const crasher = new Crasher(i === 0 ? crashAt : undefined, applied);
    await invoke(crashing(objects, registry, crasher), crasher, model.port(), clock, T0 + tick * MINUTE, owner);
    if (i === 0) firstCalls = crasher.calls;
  }
  return { ...(await leftIn(objects, registry, keys)), firstTickCalls: firstCalls };
}

/** Five ticks five minutes apart; the first killed at its `crashAt`-th store call. */
const ticks = (crashAt: number | undefined, applied: boolean) =>
  invocations(
    Array.from({ length: 5 }, (_, i) => [i * 5, i * 5, `invocation-${i}`]),
    crashAt,
    applied,
  );

/** One tick killed at its `crashAt`-th store call, and Lambda's retry of it a minute later (the same request id). */
const tickAndRetry = (crashAt: number | undefined, applied: boolean) =>
  invocations(
    [
      [0, 0, 'invocation-0'],
      [1, 0, 'invocation-0'],
    ],
    crashAt,
    applied,
  );

/** The archive (each run's timeline as [Status, Final], its latest, its records) and the registry, comparable across runs. */
async function leftIn(objects: MemoryObjectStore, registry: MemoryRegistry, keys: ArchiveKeys) {
  const archive = new SegmentArchive(objects, keys);
  const files: Record<string, unknown> = {};
  for await (const key of objects.keys('')) {
    const body = (await objects.getJson(key))!.body as Record<string, unknown>;
    if (key.includes('/timeline/')) continue;
    files[key.replace(/\/events\/.*/, '/events')] = key.endsWith('latest.json')
      ? [body.Seq, (body.SegmentTask as { Status?: number }).Status, body.Final]
      : (body.Outcome ?? 'index');
  }
  const timelines: Record<string, unknown> = {};
  for (const run of TASKS) {
    const timeline = await archive.timeline({ ...address(run.TaskId), startTime: atMinute(run.StartAt) });
    if (timeline.length) timelines[`${run.TaskId}@${run.StartAt}`] = timeline.map((s) => [s.Seq, s.SegmentTask.Status, s.Final]);
  }
  const entries: string[] = [];
  for await (const entry of allEntries(registry))
    entries.push(`${entry.address.taskId} ${entry.kind} ${entry.state} ${entry.startTime ?? ''}`);
  return { files, timelines, entries: entries.sort() };
}

describe('archiver killed between any two store calls', () => {
  it('leaves, after the next ticks, what an invocation that was never killed leaves', async () => {
    const clean = await ticks(undefined, false);
    // The clean run went through every kind of transition.
    expect(clean.timelines).toMatchObject({
      [`ends@${minutesBefore(120)}`]: [[1, 3, true]],
      [`superseded@${minutesBefore(5)}`]: [[1, 2, false]],
    });
    expect(Object.values(clean.files)).toEqual(expect.arrayContaining(['superseded', 'expired-without-final', 'not-found']));
    expect(clean.entries).toEqual([
      `announced run known ${atMinute(minutesBefore(1))}`,
      `pending run known ${atMinute(minutesBefore(10))}`,
      `running run known ${atMinute(minutesBefore(60))}`,
      `superseded run known ${atMinute(minutesBefore(5))}`,
    ]);
    expect(clean.firstTickCalls).toBeGreaterThan(20);
    console.log(JSON.stringify({ crash_points: clean.firstTickCalls * 2 }));
    for (let at = 1; at <= clean.firstTickCalls; at++) {
      for (const applied of [false, true]) {
        const crashed = await ticks(at, applied);
        expect({ at, applied, ...crashed, firstTickCalls: 0 }).toEqual({ at, applied, ...clean, firstTickCalls: 0 });
      }
    }
  });

  it("lets Lambda's retry of a killed invocation finish its tick: the runs it had in flight are archived in the same tick", async () => {
    // The clean tick, run once and retried (the retry finds the tick ended and does nothing). Only the runs known from
    // Volcengine are compared: a claim of a registration still waiting for its run (`pending`, `ghost`, `announced`)
    // already moved it ARCHIVE_UNKNOWN_RETRY_MS on, and it is asked again then.
    const known = (key: string) => !['pending', 'ghost', 'announced'].some((waiting) => key.includes(waiting));
    const runsOf = (left: Awaited<ReturnType<typeof tickAndRetry>>) => ({
      timelines: Object.fromEntries(Object.entries(left.timelines).filter(([key]) => known(key))),
      latest: Object.fromEntries(Object.entries(left.files).filter(([key]) => key.endsWith('latest.json') && known(key))),
    });
    const clean = await tickAndRetry(undefined, false);
    expect(Object.keys(runsOf(clean).latest)).toHaveLength(3);
    for (let at = 1; at <= clean.firstTickCalls; at++) {
      for (const applied of [false, true]) {
        const crashed = await tickAndRetry(at, applied);
        expect({ at, applied, ...runsOf(crashed) }).toEqual({ at, applied, ...runsOf(clean) });
      }
    }
  });

  it("records its progress on the tick's lease: Lambda's retry re-polls only what the killed run did since its last record", async () => {
    // Prepare: 60 running tasks watched; the run is killed part-way (concurrency 1, each entry several store calls).
    const clock = steppedClock(T0);
    const tasks = Array.from({ length: 60 }, (_, i) => task(`many-${i}`, 60 + i, null));
    const model = new VolcengineModel(tasks, clock, 1_000);
    const objects = new MemoryObjectStore();
    const registry = new MemoryRegistry();
    for (const t of tasks) await registry.registerRun(address(t.TaskId), atMinute(t.StartAt), 'lookup', T0 - HOUR);
    const polls = [0, 0];
    const invocation = async (index: number, crashAt: number | undefined) => {
      const crasher = new Crasher(crashAt, false);
      const upstream = model.port();
      const counted: SegmentTaskUpstream = {
        getSegmentTask: (...args) => {
          polls[index]!++;
          return upstream.getSegmentTask(...args);
        },
      };
      await invoke(crashing(objects, registry, crasher), crasher, counted, clock, T0, 'invocation-0');
    };
    // Act: killed at its 150th store call; retried a minute later with the same request id.
    clock.now = T0;
    await invocation(0, 150);
    clock.now = T0 + MINUTE;
    await invocation(1, undefined);
    // Assess: every run archived in this tick; the retry re-polled at most the 10 entries between two records and the one in flight.
    const archive = new SegmentArchive(objects, new ArchiveKeys(''));
    for (const t of tasks) expect(await archive.latest({ ...address(t.TaskId), startTime: atMinute(t.StartAt) })).toBeDefined();
    expect(polls[0]).toBeGreaterThan(20);
    expect(polls[0]! + polls[1]!).toBeLessThanOrEqual(tasks.length + 10 + 1);
  });
});
