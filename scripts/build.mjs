// Bundles each functions/<name>.ts into dist/<name>/<name>.mjs (ESM, Node 22, minified, source
// maps). Each function is built on its own with code splitting, so its folder holds exactly the
// code it can load: what it imports dynamically (the archive in the lookup function, the SSM
// client) sits in chunks loaded only when used. serverless.yml packages these folders.
// The AWS SDK is not bundled: the Lambda runtime provides it (see below).
import { build } from 'esbuild';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// zod's namespaces (`z`, and core's) re-export all of its ~50 locales as `locales`, and esbuild
// cannot drop a namespace's unused members: 258 KiB of the lookup's code. We speak English only
// (zod sets it as the default itself, importing locales/en.js directly), so the locale index
// resolves to English alone. The boot test runs the built functions' validation end to end.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, ({ importer }) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(importer)
        ? { path: join(dirname(importer), '../locales/index.js'), namespace: 'zod-locales' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'zod-locales' }, ({ path }) => ({
      contents: "export { default as en } from './en.js';",
      resolveDir: dirname(path),
    }));
  },
};

const names = readdirSync('functions')
  .filter((file) => file.endsWith('.ts'))
  .map((file) => file.slice(0, -3));

rmSync('dist', { recursive: true, force: true });
for (const name of names) {
  const result = await build({
    entryPoints: [`functions/${name}.ts`],
    outdir: `dist/${name}`,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    minify: true,
    sourcemap: true,
    metafile: true,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    mainFields: ['module', 'main'],
    // The nodejs22.x runtime ships the AWS SDK v3; using it keeps every function under 1 MB.
    // Locally (tests, npm start) the same imports resolve to node_modules.
    external: ['@aws-sdk/*'],
    // CommonJS dependencies call require(); ESM output needs a real one.
    banner: { js: "import{createRequire as __createRequire}from'node:module';const require=__createRequire(import.meta.url);" },
    logLevel: 'warning',
    plugins: [zodEnglishOnly],
  });
  writeFileSync(`dist/${name}/meta.json`, JSON.stringify(result.metafile));
  const code = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.mjs'));
  const total = code.reduce((sum, [, output]) => sum + output.bytes, 0);
  const entry = code.find(([file]) => file === `dist/${name}/${name}.mjs`)?.[1].bytes ?? 0;
  console.log(
    `dist/${name}/`.padEnd(20),
    `${(total / 1024).toFixed(1).padStart(8)} KiB code in ${code.length} files (entry ${(entry / 1024).toFixed(1)} KiB)`,
  );
}

// The OpenAPI document, generated from the handlers' zod schemas.
const { tsImport } = await import('tsx/esm/api');
const { buildOpenApiDocument } = await tsImport('../lib/openapi.ts', import.meta.url);
writeFileSync('dist/openapi.json', `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`);
console.log('dist/openapi.json');
