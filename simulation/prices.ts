/**
 * The price table the simulation's costs are computed with: AWS list prices in us-east-1, USD,
 * without free tiers or volume discounts, as published on the services' pricing pages
 * (aws.amazon.com/{lambda,api-gateway,s3,dynamodb,eventbridge}/pricing), read 2026-12-02.
 * DynamoDB on-demand: the prices since the cut of 2024-11-01 (was $1.25 / $0.25 per million).
 * Change them here; `npm run simulate` and `npm run bench -- cost` print what they give.
 *
 * Beside the prices, the few figures the simulation cannot count itself, each with its source.
 */
export const PRICES = {
  date: '2026-12-02',
  region: 'us-east-1',
  lambda: {
    /** Per request (invocation). */
    request: 0.2e-6,
    /** Per GB-second, arm64 (first 7.5 billion GB-s a month). */
    gbSecond: 0.0000133334,
  },
  /** HTTP API, per request of up to 512 KB (first 300 million a month). */
  httpApiRequest: 1.0e-6,
  s3: {
    /** PUT, COPY, POST, LIST: $0.005 per 1,000. */
    put: 0.005e-3,
    list: 0.005e-3,
    /** GET (and HEAD): $0.0004 per 1,000. */
    get: 0.0004e-3,
    /** DELETE: free. */
    delete: 0,
  },
  dynamodb: {
    /** On-demand, per write request unit (1 KB) and per read request unit (4 KB strongly consistent, 8 KB eventually). */
    writeUnit: 0.625e-6,
    readUnit: 0.125e-6,
  },
  /** PutEvents to a custom bus, per entry of up to 64 KB (a larger one counts once per 64 KB chunk). Schedule events are free. */
  eventBridgeEntry: 1.0e-6,
} as const;

/** serverless.yml: every function runs on arm64 with the provider's memorySize of 256 MB (a test holds it to the file). */
export const LAMBDA_MEMORY_GB = 256 / 1024;

/**
 * Lambda time the simulation does not count: its store calls and a lookup's wait for Volcengine
 * take no virtual time (only the archiver's pacing does). Assumed, not measured: per invocation,
 * the handler's work and its AWS round trips; per Volcengine call a lookup waits for, a round trip
 * from us-east-1 to cn-north-1. The archiver's calls overlap its pacing, which is counted.
 */
export const ASSUMED_DURATION_MS = {
  perInvocation: { lookup: 20, callback: 30, archiver: 200 },
  lookupUpstreamCall: 250,
} as const;

/**
 * The quota table's calls per Volcengine call: the simulation paces calls in virtual time instead
 * of running the fleet limiter over DynamoDB, so these are applied to its counted Volcengine calls.
 * Measured by `npm run bench -- quota` (README, "table calls per upstream call", 1.82–1.91 in five
 * cases at 2.5× the quota offered): the highest writes of the five (1.41, archiver idle) and the
 * highest reads (0.73, calls reaching Volcengine 0–80 ms late), an upper bound. Each is one
 * conditional UpdateItem or strongly consistent GetItem of one item under 1 KB: one unit each.
 */
export const QUOTA_TABLE_PER_UPSTREAM_CALL = { writes: 1.41, reads: 0.73 } as const;
