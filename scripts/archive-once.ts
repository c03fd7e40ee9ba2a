/**
 * Runs the built archiver (dist/archive/archive.mjs) once against the running local stack (npm start),
 * which it finds through .local-data/stack.json ($LOCAL_DATA_DIR), and prints the run's summary.
 */
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';

const STACK_FILE = `${process.env.LOCAL_DATA_DIR ?? '.local-data'}/stack.json`;
if (!existsSync(STACK_FILE)) {
  console.error('No local stack is running: start it first with `npm start` (in another terminal).');
  process.exit(1);
}
const stack = JSON.parse(readFileSync(STACK_FILE, 'utf8')) as { env: Record<string, string> };
for (const [name, value] of Object.entries(stack.env)) if (!process.env[name]) process.env[name] = value;
process.env.AWS_ACCESS_KEY_ID ??= 'local';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
process.env.POWERTOOLS_METRICS_NAMESPACE ??= 'RtcSegmentTasks';

const { handler } = (await import(pathToFileURL(resolve('dist/archive/archive.mjs')).href)) as {
  handler: (event: unknown, context: unknown) => Promise<Record<string, unknown>>;
};
const deadline = Date.now() + 5 * 60_000;
const summary = await handler(
  { source: 'aws.events', 'detail-type': 'Scheduled Event', time: new Date().toISOString() },
  { functionName: 'archive', awsRequestId: randomUUID(), getRemainingTimeInMillis: () => deadline - Date.now() },
);
console.log(`archiver run: ${JSON.stringify(summary)}`);
