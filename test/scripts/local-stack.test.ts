/** The README's first Quick start line: the local stack, its archive, archive:once, and Ctrl-C. */
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { callbackSignature } from '../../lib/callback/signature.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'rtc-local-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const env = {
  ...process.env,
  PORT: '0',
  LOCAL_DATA_DIR: dataDir,
  VOLC_ACCESS_KEY_ID: '',
  VOLC_SECRET_ACCESS_KEY: '',
  POWERTOOLS_LOG_LEVEL: 'WARN',
};

async function startStack() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/local.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${output}`)), 30_000);
    child.stdout.on('data', () => {
      const match = /local stack on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match && output.includes('Ctrl-C')) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  const get = async (query: string) => {
    const response = await request(`${base}/?${query}`);
    return { status: response.statusCode, json: (await response.body.json()) as any };
  };
  const stop = async () => {
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    return code as number;
  };
  return { base, output: () => output, get, stop };
}

const demo = 'Version=2023-11-01&AppId=demo-app&RoomId=demo-room&TaskId=demo-task';

describe('local stack (npm start)', () => {
  it('serves the demo task, archives it with archive:once, keeps the archive across restarts and stops on SIGINT', async () => {
    expect(existsSync('dist/lookup/lookup.mjs')).toBe(true); // built by `npm test` before vitest runs
    // Prepare
    const first = await startStack();
    const emulatorUrl = /emulator at (http:\/\/127\.0\.0\.1:\d+)/.exec(first.output())![1]!;
    // Act
    const live = await first.get(`Action=GetSegmentTask&${demo}`);
    const archiveRun = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/archive-once.ts'], { env });
    const timeline = await first.get(`Action=ListSegmentTaskSnapshots&${demo}`);
    const unsigned = {
      EventType: 'SegmentRealTimeData',
      EventData: JSON.stringify({ RoomId: 'demo-room', UserId: 'bob' }),
      EventTime: new Date().toISOString(),
      EventId: `local-test-${Date.now()}`,
      AppId: 'demo-app',
      Version: '2020-12-01',
      Nonce: 'ab12',
    };
    const post = async (signature: string) => {
      const response = await request(`${first.base}/callbacks/volcengine`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...unsigned, Signature: signature }),
      });
      return { status: response.statusCode, json: (await response.body.json()) as any };
    };
    const signedCallback = await post(callbackSignature(unsigned, 'demo-callback-secret'));
    const forgedCallback = await post('0'.repeat(64));
    const openapi = await request(`${first.base}/openapi.json`);
    const openapiJson = (await openapi.body.json()) as { openapi: string };
    const unknownRoute = await request(`${first.base}/elsewhere`);
    await unknownRoute.body.dump();
    const firstExit = await first.stop();
    const second = await startStack();
    const kept = await second.get(`Action=ListSegmentTaskSnapshots&${demo}`);
    // What the first stack watched is still watched: the registry is kept like the bucket.
    const secondRun = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/archive-once.ts'], { env });
    const secondExit = await second.stop();
    // Assess
    expect(live.status, JSON.stringify(live.json)).toBe(200);
    expect(live.json.Result.SegmentTask.Status).toBe(2);
    expect(first.output()).toContain("curl '");
    // The lookup archived the running task it registered; archive:once polled it and found nothing new.
    expect(archiveRun.stdout).toMatch(/archiver run: .*"tasksPolled":1,"snapshotsWritten":0/);
    // The lookup and archive:once took their slots from the shared quota table in dynalite.
    expect(first.output()).toMatch(/quota \(rtc-segment-tasks-quota\) and the watch registry \(rtc-segment-tasks-registry\) in dynalite/);
    // One slot for its one call, and one more for each slot it reached too late to use (a busy machine).
    const taken = Number(/"QuotaTokensTaken":\s*\[?(\d+)/.exec(archiveRun.stdout)?.[1]);
    const missed = Number(/"QuotaSlotsMissed":\s*\[?(\d+)/.exec(archiveRun.stdout)?.[1]);
    expect(taken).toBe(1 + missed);
    expect(timeline.json.Result.Snapshots).toHaveLength(1);
    expect(unknownRoute.statusCode).toBe(404);
    expect(openapiJson.openapi).toBe('3.1.0');
    expect(first.output()).toContain('demo-callback-secret');
    expect([signedCallback.status, signedCallback.json.Result.Outcome]).toEqual([200, 'registered']);
    // The local event bus printed what the callback published (and nothing for the forged one).
    expect(first.output()).toMatch(
      /Event bus: rtc-segment-tasks-local-callbacks, an EventBridge-protocol peer at http:\/\/127\.0\.0\.1:\d+/,
    );
    expect(first.output()).toContain(
      'event bus rtc-segment-tasks-local-callbacks: rtc-segment-tasks.callback SegmentRealTimeData ' +
        `EventId=${unsigned.EventId} Matched=true`,
    );
    expect(forgedCallback.status).toBe(401);
    expect(kept.json.Result.Snapshots).toEqual(timeline.json.Result.Snapshots);
    expect(secondRun.stdout).toMatch(/archiver run: .*"tasksPolled":[1-9]/);
    expect([firstExit, secondExit]).toEqual([0, 0]);
    await expect(request(first.base)).rejects.toThrow();
    await expect(request(emulatorUrl)).rejects.toThrow();
    expect(existsSync(join(dataDir, 'stack.json'))).toBe(false);
  }, 90_000);
});
