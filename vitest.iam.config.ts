import { defineConfig } from 'vitest/config';

/** The IAM evaluation: run by `npm test` after the suites, whose recorded AWS calls it evaluates. */
export default defineConfig({
  test: {
    include: ['test/iam/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    pool: 'forks',
  },
});
