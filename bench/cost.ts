/**
 * The README's cost table (npm run bench -- cost): the capacity simulation's counted requests
 * (simulation/requests.ts) at the price table (simulation/prices.ts), per unit of work.
 *
 *   lookups     per million lookups: of running runs (Volcengine answers; the first of a run
 *               registers it and writes its first snapshot), and of runs Volcengine no longer
 *               shows (the archive answers)
 *   callbacks   per million SegmentRealTimeData deliveries: the counted costs of a delivery that
 *               writes its registration (the first for its address on its instance in a minute)
 *               and of one that does not, and the mix of a stream of one every 20 s per run
 *   archived    per archived run at 1,000, 10,000 and 100,000 runs at once (arrival rate × mean
 *               duration of 60 min), each discovered by one callback (counted with callbacks)
 *
 * Machine-independent: every figure is a count of the simulation (deterministic for its seed) at
 * a price, except the stated assumptions of simulation/prices.ts. The figures move with the
 * archiver's poll policy: run this again after changing it.
 */
import { functionCost } from '../simulation/cost.ts';
import { PRICES } from '../simulation/prices.ts';
import type { FunctionRequests, SimulatedFunction } from '../simulation/requests.ts';
import { ScenarioSchema, type SimulationResult } from '../simulation/scenario.ts';
import { simulate } from '../simulation/simulate.ts';
import { capacity, lookupsOf, segmentStream, type ScenarioInput } from '../test/support/scenarios.ts';

interface Row {
  label: string;
  /** What one unit (a lookup, a delivery, an archived run) makes, on average. */
  perUnit: FunctionRequests;
  name: SimulatedFunction;
  note: string;
}

/** `counts` divided by `units`: the requests of one unit of work. */
function perUnit(counts: FunctionRequests, units: number, virtualSecondsScale = 1): FunctionRequests {
  const per = (value: number) => value / units;
  const each = <T extends Record<string, number>>(group: T) =>
    Object.fromEntries(Object.entries(group).map(([key, value]) => [key, per(value)])) as T;
  return {
    invocations: per(counts.invocations),
    virtualSeconds: per(counts.virtualSeconds) * virtualSecondsScale,
    volcengineCalls: per(counts.volcengineCalls),
    s3: each(counts.s3),
    dynamodb: each(counts.dynamodb),
    eventBridge: each(counts.eventBridge),
  };
}

const run = async (input: ScenarioInput): Promise<SimulationResult> => simulate(ScenarioSchema.parse(input));
/** `n` with at most `digits` decimals, trailing zeros dropped. */
const fixed = (n: number, digits = 2) => {
  const text = n.toFixed(digits);
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
};

async function lookupRows(): Promise<Row[]> {
  const live = await run(lookupsOf('live', { runs: 2_000, hours: 6, meanMinutes: 60 }));
  const archived = await run(lookupsOf('archived', { runs: 1_000, hours: 2, meanMinutes: 60 }));
  const sources = (result: SimulationResult) => {
    const bySource = new Map<string, number>();
    for (const lookup of result.lookups) bySource.set(String(lookup.Source), (bySource.get(String(lookup.Source)) ?? 0) + 1);
    return [...bySource].map(([source, n]) => `${n} ${source}`).join(', ');
  };
  return [
    {
      label: 'million lookups of running runs',
      name: 'lookup',
      perUnit: perUnit(live.requests.lookup, live.lookups.length),
      note:
        `${live.lookups.length} lookups of 2,000 runs, 3 each while it runs; the first of a run on an instance registers it, ` +
        `the first of a run writes its first snapshot (answers: ${sources(live)})`,
    },
    {
      label: 'million lookups of runs past their window',
      name: 'lookup',
      perUnit: perUnit(archived.requests.lookup, archived.lookups.length),
      note: `${archived.lookups.length} lookups 73–74 h after the start (answers: ${sources(archived)})`,
    },
  ];
}

async function callbackRows(): Promise<Row[]> {
  const stream = await run(segmentStream({ runsPerHour: 100, hours: 4, meanMinutes: 30 }));
  const counts = stream.requests.callback;
  const deliveries = counts.invocations;
  const mix = perUnit(counts, deliveries);
  // A delivery's own requests, with its registration write (units per write as counted) or without.
  const withWrites = (writes: number): FunctionRequests => ({
    ...mix,
    dynamodb: {
      reads: 0,
      readUnits: 0,
      writes,
      writeUnits: (writes * counts.dynamodb.writeUnits) / counts.dynamodb.writes,
      indexWriteUnits: (writes * counts.dynamodb.indexWriteUnits) / counts.dynamodb.writes,
    },
  });
  const instances = 3;
  return [
    {
      label: 'million callbacks, each writing its registration',
      name: 'callback',
      perUnit: withWrites(1),
      note:
        `the first for its address on its instance in a minute; units per write as the stream's ` +
        `(${fixed((100 * counts.dynamodb.indexWriteUnits) / counts.dynamodb.writes, 0)} % created the entry, writing its index item)`,
    },
    {
      label: 'million callbacks, none writing',
      name: 'callback',
      perUnit: withWrites(0),
      note: 'repeats within a minute on the same instance',
    },
    {
      label: 'million callbacks, a stream',
      name: 'callback',
      perUnit: mix,
      note:
        `${deliveries} deliveries, one every 20 s from each of ${stream.summary.runsInScenario} runs, spread over ${instances} ` +
        `instances: ${fixed(counts.dynamodb.writes / deliveries, 3)} writes per delivery`,
    },
  ];
}

/**
 * Per archived run at `atOnce` runs at once (runs per hour, mean 60 min) for 6 hours (3 more to
 * settle). 100,000 at once needs most of an account's quota (54 of 60 calls/s for the archiver) and
 * takes too long to simulate: it runs at one tenth (10,000 at once, accountQps 6, ARCHIVE_QPS 5.4),
 * which keeps the runs per call/s and so every count per run; only the archiver's paced time per
 * call is ten times as long, and is scaled back.
 */
async function archivedRows(): Promise<Row[]> {
  const cases: Array<{ atOnce: number; scale: number; accountQps: number; archiveQps: number }> = [
    { atOnce: 1_000, scale: 1, accountQps: 60, archiveQps: 12 },
    { atOnce: 10_000, scale: 1, accountQps: 60, archiveQps: 12 },
    { atOnce: 100_000, scale: 10, accountQps: 60, archiveQps: 54 },
  ];
  const rows: Row[] = [];
  for (const { atOnce, scale, accountQps, archiveQps } of cases) {
    const result = await run(
      capacity({ runsPerHour: atOnce / scale, hours: 6, meanMinutes: 60, accountQps: accountQps / scale, archiveQps: archiveQps / scale }),
    );
    const archived = result.runs.length;
    const s = result.summary;
    rows.push({
      label: `archived run, ${atOnce.toLocaleString('en-US')} at once`,
      name: 'archiver',
      perUnit: perUnit(result.requests.archiver, archived, 1 / scale),
      note:
        `${scale === 1 ? '' : `simulated at 1:${scale}: `}${archived} runs archived, ARCHIVE_QPS ${archiveQps / scale} of ` +
        `${accountQps / scale}/s; first capture p95 ${s.firstCaptureP95Minutes} min, end ${s.endCaptureP95Minutes} min; ` +
        `${s.upstreamThrottled} throttled; ${s.wallSeconds} s`,
    });
  }
  return rows;
}

/** Dollars: two decimals from 1, else three significant digits from 0.01, else two, never in exponent form. */
function usd(n: number): string {
  if (n === 0) return '0';
  if (n >= 1) return n.toFixed(2);
  if (n >= 0.01) return n.toFixed(3);
  return n.toFixed(1 - Math.floor(Math.log10(n)));
}

/** What one unit makes, in a few words. */
function requestsIn({ invocations, volcengineCalls, s3, dynamodb: db, eventBridge }: FunctionRequests): string {
  const parts = [`${fixed(invocations, 3)} inv.`];
  if (volcengineCalls) parts.push(`${fixed(volcengineCalls)} Volcengine`);
  const s3Parts = [`${fixed(s3.get)} GET`, `${fixed(s3.put)} PUT`, `${fixed(s3.list)} LIST`].filter((p) => !p.startsWith('0 '));
  if (s3Parts.length) parts.push(`S3 ${s3Parts.join(' ')}`);
  const registry = [
    db.reads ? `${fixed(db.reads)} reads (${fixed(db.readUnits)} RRU)` : '',
    db.writes
      ? `${fixed(db.writes)} ${db.writes === 1 ? 'write' : 'writes'} (${fixed(db.writeUnits)} + ${fixed(db.indexWriteUnits)} index WRU)`
      : '',
  ].filter(Boolean);
  if (registry.length) parts.push(`registry ${registry.join(' ')}`);
  if (eventBridge.entries) parts.push(`${fixed(eventBridge.entries)} PutEvents`);
  return parts.join(', ');
}

export async function benchCost(figures: Record<string, number>): Promise<void> {
  const rows = [...(await lookupRows()), ...(await callbackRows()), ...(await archivedRows())];
  console.log(`cost at ${PRICES.region} list prices of ${PRICES.date} (simulation/prices.ts), USD:`);
  console.log('| per | Lambda | HTTP API | S3 | registry | quota table* | EventBridge | total | requests each (counted) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    const million = row.label.startsWith('million');
    const c = functionCost(row.name, row.perUnit).usd;
    const k = million ? 1e6 : 1;
    console.log(
      `| ${row.label} | ${usd(c.lambda * k)} | ${usd(c.httpApi * k)} | ${usd(c.s3 * k)} | ${usd(c.registry * k)} | ` +
        `${usd(c.quotaTable * k)} | ${usd(c.eventBridge * k)} | **${usd(c.total * k)}** | ${requestsIn(row.perUnit)} |`,
    );
    figures[`cost_${row.label.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}_usd`] = Number((c.total * k).toPrecision(4));
  }
  console.log('* derived from the Volcengine calls (simulation/prices.ts); Lambda time beyond the virtual time assumed there too');
  for (const row of rows) console.log(`  ${row.label}: ${row.note}`);
}
