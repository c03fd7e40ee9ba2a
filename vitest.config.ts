import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The IAM evaluation reads the AWS calls the other suites recorded: it runs after them (vitest.iam.config.ts).
    exclude: ['test/iam/**', 'node_modules/**'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    globalSetup: ['test/iam/clear-recorded-calls.ts'],
    setupFiles: ['test/support/fake-aws-credentials.ts', 'test/iam/record-aws-calls.ts'],
  },
});
