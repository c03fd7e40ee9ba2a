/**
 * The settings every AWS SDK client of ours shares (S3, DynamoDB, EventBridge): where it sends,
 * who it says it is, how often it tries and how long each attempt may take.
 */
export interface AwsClientOptions {
  region?: string | undefined;
  endpoint?: string | undefined;
  /** Sent as the SDK's customUserAgent: names the calling function in CloudTrail. */
  userAgent?: string | undefined;
  /** Attempts per request (the SDK's standard retries: throttling, 5xx, network errors); 3. */
  maxAttempts?: number;
  /** Per-attempt time limit; 5 s. Connecting may take at most 3 s of it. An attempt past it is cut off (and retried). */
  requestTimeoutMs?: number;
}

/** The SDK client configuration for `options`. */
export function awsClientConfig(options: AwsClientOptions) {
  const requestTimeout = options.requestTimeoutMs ?? 5_000;
  return {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.userAgent ? { customUserAgent: options.userAgent } : {}),
    maxAttempts: options.maxAttempts ?? 3,
    // throwOnRequestTimeout: without it the SDK's Node handler only logs a warning when an attempt outlives
    // requestTimeout and goes on waiting (test/lib/aws-client.test.ts): the limit would bound nothing.
    requestHandler: { connectionTimeout: Math.min(requestTimeout, 3_000), requestTimeout, throwOnRequestTimeout: true },
  };
}
