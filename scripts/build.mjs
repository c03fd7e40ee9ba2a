// Bundles every functions/*.ts into dist/<name>.mjs (ESM, Node 22, minified, source maps).
// Shared code is split into chunks so a function only loads what it imports.
import { build } from 'esbuild';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';

const entryPoints = readdirSync('functions')
  .filter((file) => file.endsWith('.ts'))
  .map((file) => `functions/${file}`);

rmSync('dist', { recursive: true, force: true });
const result = await build({
  entryPoints,
  outdir: 'dist',
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
  // CommonJS dependencies call require(); ESM output needs a real one.
  banner: { js: "import{createRequire as __createRequire}from'node:module';const require=__createRequire(import.meta.url);" },
  logLevel: 'warning',
});
writeFileSync('dist/meta.json', JSON.stringify(result.metafile));
const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.mjs'));
for (const [file, { bytes }] of outputs) console.log(`${file.padEnd(48)} ${(bytes / 1024).toFixed(1).padStart(8)} KiB`);
