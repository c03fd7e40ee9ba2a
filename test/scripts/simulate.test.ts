/** `npm run simulate` as an operator runs it: the example scenario, and a broken one. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const simulateCli = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'scripts/simulate.ts', ...args], { encoding: 'utf8', timeout: 120_000 });

describe('scripts/simulate.ts', () => {
  it('runs the example scenario, progress on stderr and the result as the last line of stdout', () => {
    const result = simulateCli('scenarios/example.json');
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('h of 100');
    const last = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    expect(last.runs.map((r: any) => [r.TaskId, r.Terminal || r.Final])).toEqual(
      expect.arrayContaining([
        ['u1', true],
        ['u2', true],
      ]),
    );
    expect(last.runs.filter((r: any) => r.TaskId === 'u1')).toHaveLength(2);
    expect(last.lookups.every((l: any) => l.WrongRun === false)).toBe(true);
    expect(last.registry).toBe(0);
  });

  it('writes the result to --out', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'simulate-')), 'result.json');
    const result = simulateCli('scenarios/example.json', '--out', out);
    expect(result.status).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8')).summary.archiverRuns).toBe(1200);
  });

  it('exits once the result is out when faults killed invocations mid-call (their timers never fire)', () => {
    // Prepare: the example scenario with crashes after store calls.
    const dir = mkdtempSync(join(tmpdir(), 'simulate-'));
    const file = join(dir, 'faults.json');
    const example = JSON.parse(readFileSync('scenarios/example.json', 'utf8'));
    writeFileSync(file, JSON.stringify({ ...example, faults: { seed: 3, crashPerStoreCall: 0.05, duplicateSchedule: 0.2 } }));
    // Act: killed invocations leave real timers of the Lambda's 280 s budget behind; the CLI must not wait for them.
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/simulate.ts', file], { encoding: 'utf8', timeout: 90_000 });
    // Assess
    expect(result.error).toBeUndefined(); // not killed by the timeout
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout.trim().split('\n').at(-1)!).faults.crashes).toBeGreaterThan(0);
  });

  it('refuses a broken scenario with a message that names the field', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'simulate-')), 'broken.json');
    writeFileSync(file, JSON.stringify({ hours: 10, tasks: [{ AppId: 'a/b', RoomId: 'r', TaskId: 't', StartAt: 0, EndAt: 5 }] }));
    const result = simulateCli(file);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('tasks.0.AppId');
    expect(result.stderr).not.toContain('    at ');
  });
});
