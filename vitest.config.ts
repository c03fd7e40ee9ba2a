import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const TIMING = ['test/functions/quota-fleet.test.ts'];

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The suites wait on loopback servers more than they compute: two workers even on CI's two cores
    // (vitest's default there is one), which halves the run; the timing group still runs alone.
    maxWorkers: Math.max(2, availableParallelism() - 1),
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
        // Calls per sliding second are measured against the strict emulator: nothing else may run beside it.
        extends: true,
        test: { name: 'timing', include: TIMING, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
