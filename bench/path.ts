/**
 * A lookup's path: the lib/ files (and functions) a warm lookup runs code in, by V8's precise
 * coverage, in three set-ups: live without quota table or archive; deployed (shared quota table,
 * archive on S3 and DynamoDB), answered live with the run archived on the way; and deployed with
 * Volcengine failing, answered from the archive. A structure figure, not a timing: issue 19 asks
 * for half the files of its baseline (16 live, ~29 deployed).
 */
import { Session } from 'node:inspector/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { QUOTA_TABLE } from '../test/dynamodb/dynalite-server.ts';
import { startLookupStack, type LookupStack } from '../test/support/lookup-stack.ts';

const LIB = `${pathToFileURL(resolve('lib')).href}/`;

/** The lib/ files `act` runs code in (functions called, the modules' own top level aside), and how many functions. */
async function covered(session: Session, act: () => Promise<unknown>): Promise<Map<string, number>> {
  await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
  await act();
  const { result } = await session.post('Profiler.takePreciseCoverage');
  await session.post('Profiler.stopPreciseCoverage');
  const files = new Map<string, number>();
  for (const script of result) {
    if (!script.url.startsWith(LIB)) continue;
    const called = script.functions.filter((f) => f.ranges[0]!.startOffset > 0 && f.ranges[0]!.count > 0).length;
    if (called) files.set(`lib/${script.url.slice(LIB.length)}`, called);
  }
  return files;
}

async function measure(stack: LookupStack, session: Session, label: string, figures: Record<string, number>, taskId: string) {
  const files = await covered(session, () => stack.get('app', 'room', taskId));
  const functions = [...files.values()].reduce((sum, n) => sum + n, 0);
  figures[`lookup_path_${label}_files`] = files.size;
  figures[`lookup_path_${label}_functions`] = functions;
  console.log(`lookup path, ${label}: ${files.size} files, ${functions} functions: ${[...files.keys()].sort().join(' ')}`);
}

export async function benchPath(figures: Record<string, number>): Promise<void> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  const live = await startLookupStack();
  try {
    for (const t of ['t1', 't2']) live.emulator.seedTask({ appId: 'app', roomId: 'room', taskId: t });
    await live.get('app', 'room', 't1'); // warm
    await measure(live, session, 'live', figures, 't2');
  } finally {
    await live.stop();
  }
  const deployed = await startLookupStack({ archive: true, env: { QUOTA_TABLE, LOOKUP_DEADLINE_MS: '5000' } });
  try {
    for (const t of ['t1', 't2', 't3']) deployed.emulator.seedTask({ appId: 'app', roomId: 'room', taskId: t });
    await deployed.get('app', 'room', 't1'); // warm: the quota joined, the archive opened, t1 archived
    await deployed.get('app', 'room', 't3');
    await measure(deployed, session, 'deployed', figures, 't2');
    deployed.emulator.inject({ kind: 'http5xx', status: 500, action: 'GetSegmentTask' });
    await deployed.get('app', 'room', 't1'); // warm the archive's answer
    await measure(deployed, session, 'archive', figures, 't3');
  } finally {
    await deployed.stop();
    session.disconnect();
  }
}
