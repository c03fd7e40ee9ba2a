/** The built bundle (dist/lookup/lookup.mjs) loads on Node 22, validates its config at cold start, and answers. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VolcEmulator } from '../emulator/volc-emulator.ts';
import { TEST_CREDENTIALS } from '../support/credentials.ts';

const run = promisify(execFile);
const invokeScript = `
  const { handler } = await import('./dist/lookup/lookup.mjs');
  const event = JSON.parse(process.env.EVENT);
  const result = await handler(event, { functionName: 'lookup', awsRequestId: 'x', getRemainingTimeInMillis: () => 30000 });
  process.stdout.write('RESULT ' + JSON.stringify(result) + '\\n');
`;

let emulator: VolcEmulator;
let endpoint: string;
beforeAll(async () => {
  emulator = new VolcEmulator({ credentials: [TEST_CREDENTIALS] });
  endpoint = await emulator.start();
  emulator.seedTask({ appId: 'bundle-app', roomId: 'room', taskId: 'task' });
});
afterAll(() => emulator.stop());

const event = {
  version: '2.0',
  rawPath: '/',
  rawQueryString: 'Action=GetSegmentTask&Version=2022-06-01&AppId=bundle-app&RoomId=room&TaskId=task',
  headers: {},
  requestContext: { http: { method: 'GET', path: '/' }, requestId: 'r' },
};

describe('dist/lookup/lookup.mjs', () => {
  it('loads the archive, the S3 client and the DynamoDB client only on first use (dynamic import)', () => {
    const meta = JSON.parse(readFileSync('dist/lookup/meta.json', 'utf8')) as {
      outputs: Record<string, { imports: Array<{ path: string; kind: string }> }>;
    };
    const loaded = new Set<string>();
    const queue = ['dist/lookup/lookup.mjs'];
    while (queue.length) {
      const file = queue.pop()!;
      if (loaded.has(file)) continue;
      loaded.add(file);
      for (const imported of meta.outputs[file]?.imports ?? []) if (imported.kind === 'import-statement') queue.push(imported.path);
    }
    const staticImports = [...loaded].flatMap(
      (file) => meta.outputs[file]?.imports.filter((i) => i.kind === 'import-statement').map((i) => i.path) ?? [],
    );
    const dynamicImports = [...loaded].flatMap(
      (file) => meta.outputs[file]?.imports.filter((i) => i.kind === 'dynamic-import').map((i) => i.path) ?? [],
    );
    expect(staticImports.some((path) => path.includes('client-s3'))).toBe(false);
    // The shared quota's table client too: a lookup without QUOTA_TABLE never loads it, one with it loads it while it joins.
    expect(staticImports.some((path) => path.includes('client-dynamodb'))).toBe(false);
    expect(dynamicImports.some((path) => path.includes('chunks/access'))).toBe(true);
  });

  it('keeps all of its code, chunks loaded on first use included, within the 1,024 KiB budget', () => {
    // Prepare
    const meta = JSON.parse(readFileSync('dist/lookup/meta.json', 'utf8')) as { outputs: Record<string, { bytes: number }> };
    // Act
    const bytes = Object.entries(meta.outputs)
      .filter(([file]) => file.endsWith('.mjs'))
      .reduce((sum, [, output]) => sum + output.bytes, 0);
    // Assess: the figure the build prints and bench/run.ts reports as lookup_code_kib (goal ≤ 1024).
    expect(bytes).toBeLessThanOrEqual(1024 * 1024);
  });

  it("carries zod's English locale only (scripts/build.mjs: the namespaces' other locales are 258 KiB)", () => {
    // Prepare
    const meta = JSON.parse(readFileSync('dist/lookup/meta.json', 'utf8')) as { inputs: Record<string, unknown> };
    // Act
    // Files on disk only: the plugin's own module is named in its namespace (`zod-locales:…/locales/index.js`).
    const locales = Object.keys(meta.inputs).filter(
      (file) => !/^[\w-]+:/.test(file) && /(^|\/)node_modules\/zod\/v4\/locales\//.test(file),
    );
    // Assess
    expect(locales.map((file) => file.replace(/.*\//, ''))).toEqual(['en.js']);
  });

  it('answers a lookup end to end', async () => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', invokeScript], {
      env: {
        ...process.env,
        EVENT: JSON.stringify(event),
        VOLC_ENDPOINT: endpoint,
        VOLC_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
        VOLC_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        POWERTOOLS_LOG_LEVEL: 'WARN',
      },
    });
    const result = JSON.parse(/RESULT (.*)/.exec(stdout)![1]!);
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body).Result.SegmentTask.Status).toBe(2);
  });

  it('fails at cold start on bad configuration, naming the variables and not their values', async () => {
    const failure = await run(process.execPath, ['--input-type=module', '-e', "await import('./dist/lookup/lookup.mjs')"], {
      env: {
        ...process.env,
        VOLC_ACCESS_KEY_ID: '',
        VOLC_SECRET_ACCESS_KEY: 'super-secret-value-xyz',
        LOOKUP_QPS: '58',
        LOOKUP_BURST: '5',
      },
    }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).not.toBe(0);
    expect(failure?.stderr).toContain('VOLC_ACCESS_KEY_ID');
    expect(failure?.stderr).toContain('LOOKUP_QPS');
    expect(failure?.stderr).not.toContain('super-secret-value-xyz');
  });
});

describe('dist/callback/callback.mjs', () => {
  it("carries no Volcengine client: undici is not in it (the callback never calls Volcengine; the client's errors live apart)", () => {
    // Prepare
    const meta = JSON.parse(readFileSync('dist/callback/meta.json', 'utf8')) as { inputs: Record<string, unknown> };
    // Act
    const inputs = Object.keys(meta.inputs);
    // Assess
    expect(inputs.filter((file) => file.includes('node_modules/undici/'))).toEqual([]);
    expect(inputs).not.toContain('lib/volc/client.ts');
  });
});
