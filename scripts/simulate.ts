/**
 * npm run simulate -- <scenario.json> [--out <result.json>]
 * Runs the real lookup, callback and archiver code on a virtual clock against a model of
 * Volcengine built from the scenario (README: "Will my settings keep up?"). Progress goes to
 * stderr; the result goes to --out, or is printed as the last line.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ScenarioSchema, type SimulationResult } from '../simulation/scenario.ts';
import { simulate } from '../simulation/simulate.ts';
import { SIMULATED_FUNCTIONS } from '../simulation/requests.ts';

const USAGE = 'usage: npm run simulate -- <scenario.json> [--out <result.json>]';
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = outAt >= 0 ? args[outAt + 1] : undefined;
const file = args.find((arg, i) => !arg.startsWith('--') && (outAt < 0 || i !== outAt + 1));
if (!file || (outAt >= 0 && !out)) {
  console.error(USAGE);
  process.exit(2);
}

let text: string;
try {
  text = readFileSync(file, 'utf8');
} catch (error) {
  console.error(`cannot read ${file}: ${(error as Error).message}`);
  process.exit(2);
}
let json: unknown;
try {
  json = JSON.parse(text);
} catch {
  console.error(`${file} is not JSON`);
  process.exit(2);
}
const parsed = ScenarioSchema.safeParse(json);
if (!parsed.success) {
  for (const issue of parsed.error.issues.slice(0, 20)) console.error(`${file}: ${issue.path.join('.') || '(scenario)'}: ${issue.message}`);
  process.exit(2);
}

const result = await simulate(parsed.data, { onProgress: (line) => console.error(line) });
console.error(`summary: ${JSON.stringify(result.summary)}`);
for (const line of requestLines(result)) console.error(line);
// Invocations the faults killed never settle: their real timers (the archiver's per-entry time bound,
// sized in virtual time) would keep the process alive for minutes after the result is out, so it
// exits once the result is written (stdout to a pipe is written asynchronously: after the flush).
if (out) {
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  process.exit(0);
} else process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));

/** The requests each function made and their cost, one line each (the result has them in full). */
function requestLines({ requests, cost }: SimulationResult): string[] {
  const usd = (n: number) => (n === 0 ? '$0' : n >= 0.01 ? `$${n.toFixed(2)}` : `$${n.toPrecision(2)}`);
  const lines = [`AWS requests and cost (${cost.pricesOf}; quota table derived from the Volcengine calls):`];
  for (const name of SIMULATED_FUNCTIONS) {
    const { invocations, volcengineCalls, s3, dynamodb: db, eventBridge } = requests[name];
    const c = cost[name].usd;
    lines.push(
      `  ${name}: ${invocations} invocations, ${volcengineCalls} Volcengine calls; S3 ${s3.get} GET, ${s3.put} PUT, ${s3.list} LIST, ` +
        `${s3.delete} DELETE; registry ${db.reads} reads (${db.readUnits} RRU), ${db.writes} writes ` +
        `(${db.writeUnits} WRU + ${db.indexWriteUnits} in the due index); EventBridge ${eventBridge.entries} entries ` +
        `→ ${usd(c.total)}: Lambda ${usd(c.lambda)}, HTTP API ${usd(c.httpApi)}, S3 ${usd(c.s3)}, registry ${usd(c.registry)}, ` +
        `quota table ${usd(c.quotaTable)}, EventBridge ${usd(c.eventBridge)}`,
    );
  }
  lines.push(`  total ${usd(cost.totalUsd)}`);
  return lines;
}
