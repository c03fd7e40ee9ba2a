/** vitest globalSetup of the suites: start every run with no recorded AWS calls. */
import { rmSync } from 'node:fs';
import { RECORD_DIR } from './record-aws-calls.ts';

export default function setup(): void {
  rmSync(RECORD_DIR, { recursive: true, force: true });
}
