// No line of source over 140 characters (the formatter's width; it does not break long strings).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const MAX = 140;
const files = execFileSync('git', ['ls-files', '*.ts', '*.mjs'], { encoding: 'utf8' }).split('\n').filter(Boolean);
const long = files.flatMap((file) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .map((line, i) => ({ file, line: i + 1, length: line.length }))
    .filter((entry) => entry.length > MAX),
);
for (const entry of long) console.error(`${entry.file}:${entry.line}: ${entry.length} characters (at most ${MAX})`);
process.exit(long.length ? 1 : 0);
