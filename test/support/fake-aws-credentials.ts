/**
 * The AWS SDK clients need credentials to sign, even against the loopback peers (the S3 server,
 * dynalite, the SSM peer), which do not check them. One place sets them: a vitest setup file for
 * the tests, and the bench's entry point for itself.
 */
export function useFakeAwsCredentials(value = 'test'): void {
  process.env.AWS_ACCESS_KEY_ID ??= value;
  process.env.AWS_SECRET_ACCESS_KEY ??= value;
}

useFakeAwsCredentials();
