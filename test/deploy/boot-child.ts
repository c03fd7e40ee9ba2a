/**
 * Boots one packaged function the way the nodejs22.x runtime does: imports the handler file named
 * in the template from the unzipped package (where only the runtime's AWS SDK is reachable) and
 * invokes it with each event in BOOT_EVENTS. Prints one RESULT line with what the handler returned.
 */
import './../iam/record-aws-calls.ts';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [file, exportName] = [process.env.BOOT_HANDLER_FILE!, process.env.BOOT_HANDLER_EXPORT!];
const context = JSON.parse(readFileSync(new URL('../fixtures/lambda-context.json', import.meta.url), 'utf8'));
const events = JSON.parse(process.env.BOOT_EVENTS!) as unknown[];
const results: unknown[] = [];
try {
  const module = (await import(pathToFileURL(file).href)) as Record<string, (event: unknown, context: unknown) => Promise<unknown>>;
  for (const event of events) {
    const deadline = Date.now() + 30_000;
    results.push(await module[exportName]!(event, { ...context, getRemainingTimeInMillis: () => deadline - Date.now() }));
  }
  process.stdout.write(`RESULT ${JSON.stringify({ results })}\n`);
} catch (error) {
  process.stdout.write(`RESULT ${JSON.stringify({ error: String(error) })}\n`);
}
