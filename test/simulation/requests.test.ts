/**
 * The simulation's request counts are the requests the real functions make: exact on scenarios
 * small enough to work out by hand, in the relations a poll of a running run must keep, and the
 * registry's capacity units equal to what a DynamoDB-protocol server (dynalite) reports for the
 * same requests; and the cost is those counts at the price table.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbRegistry } from '../../lib/archive/dynamodb-registry.ts';
import { MemoryRegistry } from '../../simulation/memory-registry.ts';
import { LANES, type WatchRegistry } from '../../lib/archive/registry.ts';
import { functionCost } from '../../simulation/cost.ts';
import { ASSUMED_DURATION_MS, LAMBDA_MEMORY_GB, PRICES, QUOTA_TABLE_PER_UPSTREAM_CALL } from '../../simulation/prices.ts';
import { RequestCounter, type FunctionRequests } from '../../simulation/requests.ts';
import { ScenarioSchema } from '../../simulation/scenario.ts';
import { Scheduler } from '../../simulation/scheduler.ts';
import { simulate } from '../../simulation/simulate.ts';
import { createRegistryTable, DynaliteServer } from '../dynamodb/dynalite-server.ts';

const ids = (TaskId: string) => ({ AppId: 'app', RoomId: 'room', TaskId });

/**
 * One running run; one archiver invocation (at minute 0, the registry empty); three callbacks of
 * the run more than a minute apart (the memo of each instance has expired: each writes); a lookup
 * of the run while it runs; a lookup of an address that has no run.
 */
const HAND_WORKED = ScenarioSchema.parse({
  hours: 0.5,
  scheduleMinutes: 60,
  tasks: [{ ...ids('run'), StartAt: 0, EndAt: null }],
  events: [
    { ...ids('run'), At: 1, Kind: 'callback' },
    { ...ids('run'), At: 2, Kind: 'lookup' },
    { ...ids('run'), At: 3, Kind: 'callback' },
    { ...ids('nothing'), At: 4, Kind: 'lookup' },
    { ...ids('run'), At: 5, Kind: 'callback' },
  ],
});

const requests = (fill: Partial<{ [K in keyof FunctionRequests]: Partial<FunctionRequests[K]> }>): FunctionRequests => ({
  invocations: fill.invocations ?? 0,
  virtualSeconds: fill.virtualSeconds ?? 0,
  volcengineCalls: fill.volcengineCalls ?? 0,
  s3: { get: 0, put: 0, list: 0, delete: 0, ...fill.s3 },
  dynamodb: { reads: 0, writes: 0, readUnits: 0, writeUnits: 0, indexWriteUnits: 0, ...fill.dynamodb },
  eventBridge: { putEvents: 0, entries: 0, chunks: 0, ...fill.eventBridge },
});

describe('the simulation counts the requests the functions make', () => {
  it('exactly, on a scenario worked out by hand', async () => {
    const result = await simulate(HAND_WORKED);
    expect(result.requests).toEqual({
      // The run's lookup: one call, the run registered (a new entry and its index item), its first snapshot
      // (latest.json missed, then timeline entry, run index, latest.json); the other: one call, then the archive's run index listed.
      lookup: requests({
        invocations: 2,
        volcengineCalls: 2,
        s3: { get: 1, put: 3, list: 1 },
        dynamodb: { writes: 1, writeUnits: 1, indexWriteUnits: 1 },
      }),
      // Each a pending registration (the first a sighting that finds no entry, then the upsert that creates it and its
      // index item; the others a sighting that goes on: its last-seen time, which the index does not hold) and one
      // PutEvents entry; nothing in S3.
      callback: requests({
        invocations: 3,
        dynamodb: { writes: 4, writeUnits: 4, indexWriteUnits: 1 },
        eventBridge: { putEvents: 3, entries: 3, chunks: 3 },
      }),
      // The tick read (one unit) and taken, the refresh lane counted (empty: half a unit), the due index read stretch
      // by stretch but the refresh lane's two (three empty Queries: half a unit each), the tick ended.
      archiver: requests({ invocations: 1, dynamodb: { reads: 5, readUnits: 3, writes: 2, writeUnits: 2 } }),
    });
    expect(result.summary.eventsPublished).toBe(3);
  });

  it('for every poll of a running run: its call, two GETs (nothing changed), its claim and its reschedule', async () => {
    // A lookup registers the run and writes its first snapshot; the archiver runs every 5 minutes for an hour.
    const result = await simulate(
      ScenarioSchema.parse({
        hours: 1,
        tasks: [{ ...ids('run'), StartAt: 0, EndAt: null }],
        events: [{ ...ids('run'), At: 1, Kind: 'lookup' }],
      }),
    );
    const polls = result.polls.reduce((sum, p) => sum + p.Count, 0);
    const ticks = 12;
    expect(polls).toBeGreaterThanOrEqual(3);
    expect(result.runs[0]!.States).toHaveLength(1);
    const { indexWriteUnits, ...table } = result.requests.archiver.dynamodb;
    expect({ ...result.requests.archiver, dynamodb: table }).toEqual({
      ...requests({
        invocations: ticks,
        volcengineCalls: polls,
        virtualSeconds: result.requests.archiver.virtualSeconds,
        s3: { get: 2 * polls },
      }),
      // Per tick: the tick read, the refresh lane counted and the due index read stretch by stretch (five Queries, half
      // a unit each; on the first tick, before the lookup registered the run, the refresh lane counted empty is not
      // read: three); the tick taken and ended. Per poll: the claim, and the reschedule to the next refresh.
      dynamodb: { reads: 7 * ticks - 2, readUnits: 4 * ticks - 1, writes: 2 * ticks + 2 * polls, writeUnits: 2 * ticks + 2 * polls },
    });
    // A claim leaves a known run's due time; its reschedule moves the index item (delete, put).
    expect(indexWriteUnits).toBe(2 * polls);
  });

  it('the same for the same scenario and seed', async () => {
    const [first, second] = [await simulate(HAND_WORKED), await simulate(HAND_WORKED)];
    expect(second.requests).toEqual(first.requests);
    expect(second.cost).toEqual(first.cost);
  });
});

describe('the cost of the counts', () => {
  it('is each count at its price, the quota table and Lambda time beyond virtual time derived as stated', async () => {
    const { requests: counted, cost } = await simulate(HAND_WORKED);
    const gbSecond = LAMBDA_MEMORY_GB * PRICES.lambda.gbSecond;
    const quota = (calls: number) =>
      calls *
      (QUOTA_TABLE_PER_UPSTREAM_CALL.writes * PRICES.dynamodb.writeUnit + QUOTA_TABLE_PER_UPSTREAM_CALL.reads * PRICES.dynamodb.readUnit);
    const lookupSeconds = (2 * ASSUMED_DURATION_MS.perInvocation.lookup + 2 * ASSUMED_DURATION_MS.lookupUpstreamCall) / 1000;
    const lookup =
      2 * PRICES.lambda.request +
      lookupSeconds * gbSecond +
      2 * PRICES.httpApiRequest +
      PRICES.s3.get +
      3 * PRICES.s3.put +
      PRICES.s3.list +
      2 * PRICES.dynamodb.writeUnit +
      quota(2);
    const callback =
      3 * PRICES.lambda.request +
      ((3 * ASSUMED_DURATION_MS.perInvocation.callback) / 1000) * gbSecond +
      3 * PRICES.httpApiRequest +
      5 * PRICES.dynamodb.writeUnit +
      3 * PRICES.eventBridgeEntry;
    // No HTTP API in front of the archiver: its schedule invokes it.
    const archiver =
      PRICES.lambda.request +
      (ASSUMED_DURATION_MS.perInvocation.archiver / 1000) * gbSecond +
      3 * PRICES.dynamodb.readUnit +
      2 * PRICES.dynamodb.writeUnit;
    expect(cost.lookup.usd.total).toBeCloseTo(lookup, 12);
    expect(cost.callback.usd.total).toBeCloseTo(callback, 12);
    expect(cost.archiver.usd.total).toBeCloseTo(archiver, 12);
    expect(cost.totalUsd).toBeCloseTo(lookup + callback + archiver, 12);
    expect(cost.lookup.usd.quotaTable).toBeGreaterThan(0);
    expect(functionCost('lookup', counted.lookup)).toEqual(cost.lookup);
  });

  it('with the Lambda memory and architecture serverless.yml deploys', () => {
    const template = readFileSync('serverless.yml', 'utf8');
    expect(/^ {2}architecture: arm64$/m.test(template)).toBe(true);
    expect(Number(/^ {2}memorySize: (\d+)$/m.exec(template)?.[1])).toBe(LAMBDA_MEMORY_GB * 1024);
    expect(template).not.toMatch(/^ {4}memorySize:/m);
  });
});

describe("the registry's capacity units", () => {
  let dynalite: DynaliteServer;
  beforeAll(async () => {
    dynalite = new DynaliteServer();
    await dynalite.start();
  });
  afterAll(() => dynalite.stop());

  const now = Date.UTC(2026, 11, 1, 12);
  const tick = now;
  const pending = { appId: 'app-7', roomId: 'room-with-a-longer-name', taskId: 'user-0042' };
  const run = { appId: 'app-7', roomId: 'room-with-a-longer-name', taskId: 'user-0043' };

  /** Every kind of request the functions make, successful and refused. */
  async function requestsOf(registry: WatchRegistry): Promise<void> {
    await registry.registerPending(pending, 'callback', now);
    await registry.registerPending(pending, 'callback', now + 60_000);
    await registry.registerRun(run, now - 3_600_000, 'lookup', now + 1);
    await registry.registerRun(run, now - 3_600_000, 'watch', now + 2);
    expect(await registry.beginTick(tick, 'owner', now + 3)).toEqual({});
    expect(await registry.beginTick(tick, 'duplicate', now + 4)).toBeUndefined();
    // A page per lane: the pending registration's (first), then the run's (refresh).
    const lanes = LANES.map((lane) => ({ lane, until: now + 120_000 }));
    const pendingPage = await registry.duePage(lanes);
    const runPage = await registry.duePage(lanes, pendingPage.next);
    expect([...pendingPage.items, ...runPage.items].map((entry) => entry.kind)).toEqual(['pending', 'run']);
    const [second, first] = [pendingPage.items[0]!, runPage.items[0]!];
    const claimed = await registry.claim(first, tick, 'owner', now + 5, now + 300_000);
    expect(claimed).toBeDefined();
    expect(await registry.claim(first, tick, 'owner', now + 6, now + 300_000)).toBeUndefined();
    expect(await registry.reschedule(claimed!, tick, { dueAt: now + 600_000 })).toBe(true);
    const claimedPending = await registry.claim(second, tick, 'owner', now + 7, now + 900_000);
    expect(await registry.retire(claimedPending!, tick)).toBe(true);
    expect(await registry.retire(claimedPending!, tick)).toBe(false);
    expect(await registry.renewTick(tick, 'owner', now + 8, now + 8)).toBe(true);
    await registry.endTick(tick, 'owner');
  }

  it('are what dynalite reports for the same requests, and the due index is billed besides', async () => {
    await createRegistryTable(dynalite.url, 'registry-units');
    const dynamodb = new DynamoDbRegistry({ table: 'registry-units', endpoint: dynalite.url, region: 'us-east-1' });
    await requestsOf(dynamodb);

    const scheduler = new Scheduler(now, 1);
    const counter = new RequestCounter(scheduler);
    let failure: unknown;
    scheduler.start(now, 'archiver', () => requestsOf(counter.registry(new MemoryRegistry())).catch((error) => (failure = error)));
    await scheduler.run();
    expect(failure).toBeUndefined();

    const { indexWriteUnits, ...table } = counter.counts.archiver.dynamodb;
    // DynamoDB bills a Query that returns nothing half a unit (eventually consistent), dynalite nothing: the empty ending lane.
    expect(table).toEqual({ ...dynamodb.usage, readUnits: dynamodb.usage.readUnits + 0.5 });
    // Reads: the tick twice, then the empty ending lane, the first lane, the refresh lane (one Query each).
    expect(dynamodb.usage).toMatchObject({ reads: 5, writes: 13 });
    expect(counter.unattributed).toBe(0);
    // Created: 1 each (pending, run); unchanged projection: 0 (a second callback, a watch of a known run); dueAt moved:
    // 2 each (two claims, a reschedule); refused: 0 (a claim, a retire); deleted: 1.
    expect(indexWriteUnits).toBe(1 + 0 + 1 + 0 + 2 + 0 + 2 + 2 + 1 + 0);
  });
});
