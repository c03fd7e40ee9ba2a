/** The README's first Quick start line: the local stack answers the demo task and stops on Ctrl-C. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';

describe('local stack (npm start)', () => {
  it('serves the demo task from the emulator and stops everything on SIGINT', async () => {
    expect(existsSync('dist/lookup.mjs')).toBe(true); // built by `npm test` before vitest runs
    // Prepare
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/local.ts'], {
      env: { ...process.env, PORT: '0', VOLC_ACCESS_KEY_ID: '', VOLC_SECRET_ACCESS_KEY: '', POWERTOOLS_LOG_LEVEL: 'WARN' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed: ${output}`)), 20_000);
      child.stdout.on('data', () => {
        const match = /local stack on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    const emulatorUrl = /emulator at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!;
    // Act
    const demo = await request(`${base}/?Action=GetSegmentTask&Version=2023-11-01&AppId=demo-app&RoomId=demo-room&TaskId=demo-task`);
    const demoJson = (await demo.body.json()) as any;
    const unknownRoute = await request(`${base}/elsewhere`);
    await unknownRoute.body.dump();
    child.kill('SIGINT');
    const [exitCode] = await once(child, 'exit');
    // Assess
    expect(demo.statusCode).toBe(200);
    expect(demoJson.Result.SegmentTask.Status).toBe(2);
    expect(output).toContain("curl '");
    expect(unknownRoute.statusCode).toBe(404);
    expect(exitCode).toBe(0);
    await expect(request(base)).rejects.toThrow();
    await expect(request(emulatorUrl)).rejects.toThrow();
  });
});
