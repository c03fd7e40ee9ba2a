/**
 * Benchmarks. Every figure is a ratio to an anchor measured in the same run, on the same machine.
 * The last line printed is one JSON object with all figures.
 *
 *   signer:     signatures/s of lib/volc/signer.ts vs the official SDK Signer and vs
 *               @smithy/signature-v4 + @smithy/hash-node (higher is better)
 *   client:     CPU per signed GetSegmentTask of VolcClient vs the official SDK Service path,
 *               both against the same emulator running in another process (lower is better);
 *               and the transport it ships (two undici files) vs Node's own fetch: CPU per
 *               request and cold import + first request
 *   cold start: cold import of each dist/ bundle vs a bundle of @volcengine/openapi +
 *               @aws-sdk/client-s3 + @middy/core + zod + undici + Powertools logger (lower is better)
 *   cost:       the README's cost table, from the simulation's counted requests (bench/cost.ts)
 *   path:       the lib/ files a warm lookup runs code in, live and deployed (bench/path.ts)
 */
import { createRequire } from 'node:module';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import { Hash } from '@smithy/hash-node';
import { Agent as UndiciAgent, request as undiciRequest } from 'undici';
import { SignatureV4 } from '@smithy/signature-v4';
import { signVolcRequest } from '../lib/volc/signer.ts';
import { useFakeAwsCredentials } from '../test/support/fake-aws-credentials.ts';
import { benchPass, benchQpsUse, simulateCapacity, simulateRefreshFloor, simulateScenarios } from './archive.ts';
import { benchCallbacks } from './callback.ts';
import { benchCost } from './cost.ts';
import { benchPath } from './path.ts';
import { benchQuota, quotaCases } from './quota.ts';
import type { TokenBucket as TokenBucketType, VolcClient as VolcClientType } from '../lib/volc/client.ts';

const require = createRequire(import.meta.url);
const SdkSigner = require('@volcengine/openapi/lib/base/sign.js').default;
const { Service } = require('@volcengine/openapi');

const CREDENTIALS = { accessKeyId: 'AKLTBENCHACCESSKEY', secretAccessKey: 'bench-secret-access-key' };
const QUERY: Array<[string, string]> = [
  ['Action', 'GetSegmentTask'],
  ['Version', '2023-11-01'],
  ['AppId', '661e3b4c9a5f7d0012a543cf'],
  ['RoomId', 'Room1'],
  ['TaskId', 'seg-task-0001'],
];
useFakeAwsCredentials('bench');
const figures: Record<string, number> = {};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Operations per second of `fn`, best of `rounds` timed rounds after a warm-up. */
async function opsPerSecond(fn: () => unknown | Promise<unknown>, { rounds = 5, ms = 400 } = {}): Promise<number> {
  const deadline = performance.now() + 200;
  while (performance.now() < deadline) await fn();
  const results: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let count = 0;
    const start = performance.now();
    while (performance.now() - start < ms) {
      for (let i = 0; i < 100; i++) await fn();
      count += 100;
    }
    results.push((count * 1000) / (performance.now() - start));
  }
  return median(results);
}

async function benchSigner(): Promise<void> {
  let tick = Date.UTC(2026, 10, 25, 8, 0, 0);
  const ours = () =>
    signVolcRequest({
      ...CREDENTIALS,
      region: 'cn-north-1',
      service: 'rtc',
      method: 'GET',
      path: '/',
      query: QUERY,
      headers: {},
      body: '',
      date: (tick += 1000),
    });
  const params = Object.fromEntries(QUERY);
  const sdk = () => {
    const signer = new SdkSigner({ region: 'cn-north-1', method: 'GET', pathname: '/', params: { ...params }, headers: {} }, 'rtc');
    signer.addAuthorization({ accessKeyId: CREDENTIALS.accessKeyId, secretKey: CREDENTIALS.secretAccessKey }, new Date((tick += 1000)));
  };
  const smithy = new SignatureV4({ service: 'rtc', region: 'cn-north-1', credentials: CREDENTIALS, sha256: Hash.bind(null, 'sha256') });
  const smithySign = () =>
    smithy.sign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: 'rtc.volcengineapi.com',
        path: '/',
        query: { ...params },
        headers: { host: 'rtc.volcengineapi.com' },
      },
      { signingDate: new Date((tick += 1000)) },
    );
  const oursRate = await opsPerSecond(ours);
  const sdkRate = await opsPerSecond(sdk);
  const smithyRate = await opsPerSecond(smithySign);
  figures.signer_ops_per_s = Math.round(oursRate);
  figures.signer_vs_sdk = round(oursRate / sdkRate);
  figures.signer_vs_smithy = round(oursRate / smithyRate);
  console.log(
    `signer: ${fmt(oursRate)}/s; official SDK ${fmt(sdkRate)}/s (×${figures.signer_vs_sdk}, goal ≥ 20); ` +
      `smithy+hash-node ${fmt(smithyRate)}/s (×${figures.signer_vs_smithy}, goal ≥ 3)`,
  );
}

async function startEmulatorProcess(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/emulator-process.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /URL (\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

/**
 * CPU time (user + system, this process only) per call of each path, median of rounds. Rounds
 * alternate between the paths so that machine noise hits both alike, after a warm-up long enough
 * for the JIT to optimise both (a few hundred calls are not).
 */
async function cpuPerCall(paths: Array<() => Promise<unknown>>, calls = 1000, rounds = 7, warmup = 4000): Promise<number[]> {
  for (const call of paths) for (let i = 0; i < warmup; i++) await call();
  const perCall: number[][] = paths.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (const [index, call] of paths.entries()) {
      const before = process.cpuUsage();
      for (let i = 0; i < calls; i++) await call();
      const used = process.cpuUsage(before);
      perCall[index]!.push((used.user + used.system) / calls);
    }
  }
  return perCall.map(median);
}

/** One ESM bundle for Node 22, minified, built the way scripts/build.mjs builds the functions. */
function bundle(options: Pick<BuildOptions, 'stdin' | 'entryPoints' | 'outfile'>) {
  return build({
    ...options,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    minify: true,
    banner: { js: "import{createRequire as __createRequire}from'node:module';const require=__createRequire(import.meta.url);" },
    logLevel: 'error',
  });
}

/** The client as it ships: bundled and minified by esbuild like the functions. */
async function loadShippedClient(): Promise<{ VolcClient: typeof VolcClientType; TokenBucket: typeof TokenBucketType }> {
  const outfile = join('dist', 'bench', 'volc-client.mjs');
  await bundle({
    stdin: {
      contents: "export { TokenBucket, VolcClient } from './lib/volc/client.ts';",
      resolveDir: process.cwd(),
      loader: 'ts',
    },
    outfile,
  });
  return import(pathToFileURL(resolve(outfile)).href);
}

async function benchClient(): Promise<void> {
  const { VolcClient, TokenBucket } = await loadShippedClient();
  const emulator = await startEmulatorProcess();
  try {
    const client = new VolcClient({
      endpoint: emulator.url,
      region: 'cn-north-1',
      service: 'rtc',
      credentials: () => CREDENTIALS,
      limiter: new TokenBucket({ ratePerSecond: 1e9, burst: 1e9 }),
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    });
    const address = { appId: '661e3b4c9a5f7d0012a543cf', roomId: 'Room1', taskId: 'seg-task-0001' };
    const ours = async () => {
      const result = await client.getSegmentTask('2023-11-01', address, { timeoutMs: 5000 });
      if (result.task?.Status !== 2) throw new Error('unexpected answer');
    };
    const service = new Service({
      host: new URL(emulator.url).host,
      protocol: 'http:',
      region: 'cn-north-1',
      serviceName: 'rtc',
      accessKeyId: CREDENTIALS.accessKeyId,
      secretKey: CREDENTIALS.secretAccessKey,
    });
    const getTask = service.createAPI('GetSegmentTask', { Version: '2023-11-01', method: 'GET' });
    const sdk = async () => {
      const result = await getTask({ AppId: address.appId, RoomId: address.roomId, TaskId: address.taskId });
      if (result.Result?.SegmentTask?.Status !== 2) throw new Error('unexpected SDK answer');
    };
    // Transport floor: one unsigned keep-alive undici request to the same emulator, nothing else.
    const floorAgent = new UndiciAgent({ keepAliveTimeout: 30_000 });
    const floor = async () => {
      const response = await undiciRequest(`${emulator.url}/?Action=GetSegmentTask&Version=2023-11-01`, { dispatcher: floorAgent });
      await response.body.text();
    };
    // The same request through Node's own fetch (its bundled undici, no code of ours to ship).
    const fetched = async () => {
      const response = await fetch(`${emulator.url}/?Action=GetSegmentTask&Version=2023-11-01`);
      await response.text();
    };
    const [oursCpu, sdkCpu, floorCpu, fetchCpu] = (await cpuPerCall([ours, sdk, floor, fetched])) as [number, number, number, number];
    figures.client_cpu_us_per_call = round(oursCpu);
    figures.client_cpu_vs_sdk = round(oursCpu / sdkCpu);
    figures.client_transport_floor_us = round(floorCpu);
    figures.fetch_cpu_vs_undici_request = round(fetchCpu / floorCpu);
    const cold = await coldFirstRequest(emulator.url);
    figures.fetch_cold_first_request_vs_undici = round(cold.fetchMs / cold.undiciMs);
    console.log(
      `client: ${round(oursCpu)} µs CPU per GetSegmentTask; ` +
        `official SDK Service ${round(sdkCpu)} µs (×${figures.client_cpu_vs_sdk}, goal ≤ 0.3); ` +
        `bare undici request ${round(floorCpu)} µs; Node's fetch ${round(fetchCpu)} µs (×${figures.fetch_cpu_vs_undici_request}); ` +
        `cold import + first request: undici's files ${round(cold.undiciMs)} ms, fetch ${round(cold.fetchMs)} ms ` +
        `(×${figures.fetch_cold_first_request_vs_undici})`,
    );
  } finally {
    emulator.stop();
  }
}

/**
 * Cold import + first request to `url` in a fresh process (median of runs), through the two undici
 * files lib/volc/client.ts imports and through Node's own fetch, each bundled like the functions.
 */
async function coldFirstRequest(url: string, runs = 9): Promise<{ undiciMs: number; fetchMs: number }> {
  const dir = join('dist', 'bench');
  mkdirSync(dir, { recursive: true });
  const target = JSON.stringify(`${url}/?Action=GetSegmentTask&Version=2023-11-01`);
  const sources = {
    undici: [
      "import { Agent, request } from './lib/volc/client.ts';",
      `const url = new URL(${target});`,
      "const options = { origin: url.origin, path: '/' + url.search, method: 'GET' };",
      'export const first = async () => (await request(new Agent({}), options)).body.text();',
    ].join('\n'),
    fetch: `export const first = async () => (await fetch(${target})).text();`,
  };
  const times: Record<string, number> = {};
  for (const [name, contents] of Object.entries(sources)) {
    const outfile = join(dir, `first-request-${name}.mjs`);
    await bundle({ stdin: { contents, resolveDir: process.cwd(), loader: 'ts' }, outfile });
    const script = [
      'const t=performance.now();',
      `const m=await import(${JSON.stringify(resolve(outfile))});`,
      'await m.first();process.stdout.write(String(performance.now()-t));process.exit(0);',
    ].join('');
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) samples.push(Number(execFileSync(process.execPath, ['--input-type=module', '-e', script]).toString()));
    times[name] = median(samples);
  }
  return { undiciMs: times.undici!, fetchMs: times.fetch! };
}

async function buildAnchor(): Promise<string> {
  const dir = join('dist', 'bench');
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, 'anchor-entry.mjs');
  writeFileSync(
    entry,
    [
      "import * as volc from '@volcengine/openapi';",
      "import * as s3 from '@aws-sdk/client-s3';",
      "import * as middy from '@middy/core';",
      "import * as zod from 'zod';",
      "import * as undici from 'undici';",
      "import * as logger from '@aws-lambda-powertools/logger';",
      'globalThis.__anchor = [volc, s3, middy, zod, undici, logger];',
    ].join('\n'),
  );
  await bundle({ entryPoints: [entry], outfile: join(dir, 'anchor.mjs') });
  return join(dir, 'anchor.mjs');
}

/** Code of a function's folder: what its entry loads at start (static imports) and everything. */
function codeSize(name: string): { staticKiB: number; allKiB: number } {
  const meta = JSON.parse(readFileSync(join('dist', name, 'meta.json'), 'utf8')) as {
    outputs: Record<string, { bytes: number; imports: Array<{ path: string; kind: string }> }>;
  };
  const code = Object.entries(meta.outputs).filter(([file]) => file.endsWith('.mjs'));
  const loaded = new Set<string>();
  const queue = [`dist/${name}/${name}.mjs`];
  while (queue.length) {
    const file = queue.pop()!;
    if (loaded.has(file) || !meta.outputs[file]) continue;
    loaded.add(file);
    for (const imported of meta.outputs[file].imports) if (imported.kind === 'import-statement') queue.push(imported.path);
  }
  const sum = (files: string[]) => files.reduce((total, file) => total + meta.outputs[file]!.bytes, 0) / 1024;
  return { staticKiB: sum([...loaded]), allKiB: sum(code.map(([file]) => file)) };
}

/** Median wall time of importing `file` in a fresh Node process. */
function coldImportMs(file: string, runs = 9): number {
  const target = JSON.stringify(`${process.cwd()}/${file}`);
  const script = `const t=performance.now();await import(${target});process.stdout.write(String(performance.now()-t));`;
  const env = {
    ...process.env,
    VOLC_ACCESS_KEY_ID: 'AKLTBENCH',
    VOLC_SECRET_ACCESS_KEY: 'bench',
    ARCHIVE_BUCKET: 'bench-bucket',
    REGISTRY_TABLE: 'bench-registry',
    EVENT_BUS_NAME: 'bench-bus',
    CALLBACK_SECRETS: '{"bench-app":"bench"}',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
  const times: number[] = [];
  for (let i = 0; i < runs; i++)
    times.push(Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env }).toString()));
  return median(times);
}

async function benchColdStart(): Promise<void> {
  const anchor = await buildAnchor();
  const anchorMs = coldImportMs(anchor);
  const anchorKiB = statSync(anchor).size / 1024;
  console.log(`cold start anchor bundle: ${round(anchorMs)} ms, ${Math.round(anchorKiB)} KiB`);
  for (const name of readdirSync('dist').filter((entry) => existsSync(join('dist', entry, `${entry}.mjs`)))) {
    const entry = join('dist', name, `${name}.mjs`);
    const ms = coldImportMs(entry);
    const { staticKiB, allKiB } = codeSize(name);
    figures[`${name}_cold_import_ms`] = round(ms);
    figures[`${name}_cold_import_vs_anchor`] = round(ms / anchorMs);
    figures[`${name}_code_kib`] = Math.round(allKiB);
    figures[`${name}_loaded_at_start_kib`] = Math.round(staticKiB);
    console.log(
      `cold start ${name}: ${round(ms)} ms (×${figures[`${name}_cold_import_vs_anchor`]} of the anchor, goal ≤ 0.4 for lookup); ` +
        `${Math.round(staticKiB)} KiB loaded at start, ${Math.round(allKiB)} KiB of code in all (goal ≤ 1024)`,
    );
  }
  figures.anchor_cold_import_ms = round(anchorMs);
}

const round = (n: number) => Math.round(n * 1000) / 1000;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const sections: Record<string, () => Promise<void>> = {
  signer: benchSigner,
  client: benchClient,
  cold: benchColdStart,
  'archiver-qps': () => benchQpsUse(figures),
  'archiver-pass': () => benchPass(figures),
  callbacks: () => benchCallbacks(figures),
  simulation: () => simulateScenarios(figures),
  capacity: () => simulateCapacity(figures),
  'refresh-floor': () => simulateRefreshFloor(figures),
  cost: () => benchCost(figures),
  quota: () => benchQuota(figures, quotaCases(options)),
  path: () => benchPath(figures),
};
// Options (--name=value) are the quota section's: --jitter=MIN-MAX, --skew=MS, --archiver=idle|busy.
const options = process.argv.slice(2).filter((arg) => arg.startsWith('--'));
const chosen = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const unknown = chosen.filter((name) => !Object.hasOwn(sections, name));
if (unknown.length) {
  console.error(`unknown bench section(s): ${unknown.join(', ')}; choose from ${Object.keys(sections).join(', ')}`);
  process.exit(2);
}
for (const [name, section] of Object.entries(sections)) if (chosen.length === 0 || chosen.includes(name)) await section();
console.log(JSON.stringify(figures));
