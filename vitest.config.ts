import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const TIMING = ['test/functions/quota-fleet.test.ts', 'test/lib/quota/fleet-limiter.test.ts'];

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The suites wait on loopback servers and injected latencies more than they compute: three workers
    // even on CI's two cores (vitest's default there is one). Measured on 2 cores, the suites alone:
    // 218 s with two workers, 179-193 s with three (three runs). The timing group still runs alone.
    maxWorkers: Math.max(3, availableParallelism()),
    setupFiles: ['test/support/fake-aws-credentials.ts', 'test/iam/record-aws-calls.ts'],
    // Once, before both groups: each run records its AWS calls afresh.
    globalSetup: ['test/iam/clear-recorded-calls.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'suites',
          include: ['test/**/*.test.ts'],
          // The IAM evaluation reads the AWS calls the other suites recorded: it runs after them (vitest.iam.config.ts).
          exclude: ['test/iam/**', 'node_modules/**', ...TIMING],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Calls per sliding second and slots per real second are measured: nothing else may run beside them.
        extends: true,
        // One file at a time: each measures real time and must not share the machine with another.
        test: { name: 'timing', include: TIMING, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
