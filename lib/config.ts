/**
 * Configuration from the environment, validated once when a function's module loads so a bad
 * deploy fails at cold start, and handed on as grouped, camelCase settings: this is the one module
 * that knows the environment's names. Messages name the variable, never its value.
 */
import { z } from 'zod';
import { DEFAULT_TIMING, type SlotTiming } from './quota/slots.ts';
import { DEFAULT_ENDPOINT, DEFAULT_REGION, DEFAULT_SERVICE } from './volc/defaults.ts';

const intFrom = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

const booleanFrom = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true' || value === '1');

/** The name of an SSM parameter (SecureString, or /aws/reference/secretsmanager/…) holding a secret. */
const ParameterName = z.string().regex(/^\/[A-Za-z0-9_./-]+$/, 'must be an SSM parameter name starting with "/"');

/** How secrets held in SSM are read: the endpoint (tests) and how long a value is cached. */
const SecretsEnvShape = {
  SSM_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  SECRETS_CACHE_TTL_MS: intFrom(1_000, 3_600_000, 300_000),
};

/**
 * Volcengine credentials: in the environment for local runs, or (deployed) the name of an SSM
 * SecureString holding {"AccessKeyId","SecretAccessKey","SessionToken"?}, read at run time.
 */
const VolcEnvShape = {
  VOLC_ENDPOINT: z.url({ protocol: /^https?$/ }).default(DEFAULT_ENDPOINT),
  VOLC_REGION: z.string().min(1).default(DEFAULT_REGION),
  VOLC_SERVICE: z.string().min(1).default(DEFAULT_SERVICE),
  VOLC_ACCESS_KEY_ID: z.string().trim().min(1).optional(),
  VOLC_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  VOLC_SESSION_TOKEN: z.string().min(1).optional(),
  VOLC_CREDENTIALS_PARAMETER: ParameterName.optional(),
  ...SecretsEnvShape,
};

const oneCredentialSource = (env: {
  VOLC_ACCESS_KEY_ID?: string | undefined;
  VOLC_SECRET_ACCESS_KEY?: string | undefined;
  VOLC_CREDENTIALS_PARAMETER?: string | undefined;
}) => (env.VOLC_CREDENTIALS_PARAMETER !== undefined) !== (env.VOLC_ACCESS_KEY_ID !== undefined && env.VOLC_SECRET_ACCESS_KEY !== undefined);
const CREDENTIAL_SOURCE_MESSAGE = {
  message: 'set either VOLC_CREDENTIALS_PARAMETER (deployed) or both VOLC_ACCESS_KEY_ID and VOLC_SECRET_ACCESS_KEY (local), not both',
  path: ['VOLC_ACCESS_KEY_ID'],
};

/**
 * The fleet-wide GetSegmentTask quota (lib/quota). Without QUOTA_TABLE each instance keeps its
 * own token bucket, which holds the account's quota only while one instance runs.
 * @example { "QUOTA_TABLE": "rtc-segment-tasks-quota", "VOLC_ACCOUNT_QPS": "60", "ARCHIVE_QPS": "12" }
 */
const TableName = z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name');
/** For DynamoDB-compatible endpoints (tests, the local stack); empty for AWS. */
const DynamoDbEndpoint = z.url({ protocol: /^https?$/ }).optional();
/** The function's own region (Lambda sets it), where the stack's tables are. */
const AwsRegion = z.string().min(1).default('us-east-1');

const QuotaEnvShape = {
  QUOTA_TABLE: TableName.optional(),
  DYNAMODB_ENDPOINT: DynamoDbEndpoint,
  AWS_REGION: AwsRegion,
  /** GetSegmentTask calls per second for the whole account; lower it to leave room for other systems. */
  VOLC_ACCOUNT_QPS: z.coerce.number().int().min(2).max(1000).default(60),
  /** The archiver's reserved share of VOLC_ACCOUNT_QPS; lookups cannot take it. */
  ARCHIVE_QPS: z.coerce.number().positive().max(1000).default(12),
  /** Budget of one quota-table call; past it the instance falls back to QUOTA_FALLBACK_QPS. */
  QUOTA_TIMEOUT_MS: intFrom(10, 5_000, 200),
  /** Per-instance rate while the quota table does not answer: keep it at VOLC_ACCOUNT_QPS / the instances you expect. */
  QUOTA_FALLBACK_QPS: z.coerce.number().positive().max(60).default(2),
  /** How late after its slot a call may still leave; a later one takes a new slot (lib/quota/slots.ts DEFAULT_TIMING). */
  QUOTA_LATE_MS: intFrom(1, 500, DEFAULT_TIMING.lateMs),
  /** How much the network delay to Volcengine may vary between calls without a call being throttled. */
  QUOTA_NETWORK_MS: intFrom(0, 1_000, DEFAULT_TIMING.networkMs),
  /** How far an instance's fleet time may lag the fastest clock's (lib/quota/slots.ts SlotTiming.clockMs): 0 where clocks agree. */
  QUOTA_CLOCK_MS: intFrom(0, 1_000, 0),
};

const shareFitsTheAccount = (env: { QUOTA_TABLE?: string | undefined; ARCHIVE_QPS: number; VOLC_ACCOUNT_QPS: number }) =>
  env.QUOTA_TABLE === undefined || env.ARCHIVE_QPS < env.VOLC_ACCOUNT_QPS;
interface BucketEnv {
  QUOTA_TABLE?: string | undefined;
  VOLC_ACCOUNT_QPS: number;
  QUOTA_LATE_MS: number;
  QUOTA_NETWORK_MS: number;
}
/**
 * Whether a per-instance bucket keeps one instance within the account's second. Without
 * QUOTA_TABLE the bucket is the limiter: a second at Volcengine then gathers its burst and the
 * slots of 1,000 + QUOTA_LATE_MS + QUOTA_NETWORK_MS ms (a call leaves up to the late allowance after
 * its slot, and its network delay varies by up to the network allowance), so with the defaults
 * 40 + 5 may arrive as 49 in a second, and 55 + 5 as 65: counting rate + burst alone let the
 * latter through. With QUOTA_TABLE the shared quota bounds the account and the bucket only has to
 * stay within 60.
 */
const bucketFits = (qps: number, burst: number, env: BucketEnv) =>
  env.QUOTA_TABLE === undefined
    ? burst + (qps * (1000 + env.QUOTA_LATE_MS + env.QUOTA_NETWORK_MS)) / 1000 <= Math.min(60, env.VOLC_ACCOUNT_QPS)
    : qps + burst <= 60;
const BUCKET_LIMIT_TEXT =
  '60, nor, without QUOTA_TABLE, VOLC_ACCOUNT_QPS with the rate counted over 1,000 + QUOTA_LATE_MS + QUOTA_NETWORK_MS ms ' +
  '(the slots one second at Volcengine gathers)';
const SHARE_MESSAGE = { message: 'ARCHIVE_QPS must be below VOLC_ACCOUNT_QPS (lookups get the rest)', path: ['ARCHIVE_QPS'] };

/**
 * Where the archive lives. Optional for the lookup function (without it, lookups are live only).
 * @example { "ARCHIVE_BUCKET": "rtc-segment-archive", "S3_REGION": "us-east-1" }
 */
const ArchiveStorageEnvShape = {
  ARCHIVE_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid bucket name')
    .optional(),
  /** Key prefix inside the bucket, e.g. "rtc/" (empty by default). */
  ARCHIVE_PREFIX: z
    .string()
    .regex(/^([A-Za-z0-9._-]+\/)*$/, 'must be empty or end with "/"')
    .default(''),
  /** For S3-compatible stores (Volcengine TOS, MinIO); empty for AWS S3. */
  S3_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** The bucket's region when it is not the function's own (AWS_REGION). */
  S3_REGION: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: booleanFrom(false),
  /** The watch registry's DynamoDB table (the stack's RegistryTable); needed wherever the archive is. */
  REGISTRY_TABLE: TableName.optional(),
  DYNAMODB_ENDPOINT: DynamoDbEndpoint,
  AWS_REGION: AwsRegion,
};

const archiveHasRegistry = (env: { ARCHIVE_BUCKET?: string | undefined; REGISTRY_TABLE?: string | undefined }) =>
  (env.ARCHIVE_BUCKET === undefined) === (env.REGISTRY_TABLE === undefined);
const REGISTRY_MESSAGE = {
  message: 'ARCHIVE_BUCKET and REGISTRY_TABLE go together (the archive and its watch registry)',
  path: ['REGISTRY_TABLE'],
};

// Each schema below is marked pure (building it has no side effects), so that a function's bundle can
// leave out the other functions' schemas: the archiver's costs the lookup 0.8 KiB of its 1,024.

/**
 * Environment of the lookup function.
 * @example { "VOLC_ACCESS_KEY_ID": "AKLT...", "VOLC_SECRET_ACCESS_KEY": "...", "LOOKUP_QPS": "50" }
 */
const LookupEnvSchema = /* @__PURE__ */ z
  .object({
    ...VolcEnvShape,
    /** Sustained GetSegmentTask calls per second from one instance. */
    LOOKUP_QPS: z.coerce.number().positive().max(60).default(40),
    /** Calls allowed at once on top of the rate; rate + burst must stay within 60. */
    LOOKUP_BURST: intFrom(1, 59, 5),
    /**
     * Whole-request budget for a lookup: quota wait, retries and archive work included. An
     * invocation with less time left than this plus 2 s gets that less 2 s (lib/lookup/actions.ts).
     */
    LOOKUP_DEADLINE_MS: intFrom(100, 29_000, 5_000),
    VOLC_MAX_ATTEMPTS: intFrom(1, 10, 4),
    VOLC_RETRY_BASE_MS: intFrom(1, 10_000, 100),
    VOLC_RETRY_MAX_MS: intFrom(1, 30_000, 2_000),
    /** Terminal tasks (Status 3/4) kept in memory per instance. */
    LOOKUP_CACHE_ENTRIES: intFrom(0, 100_000, 1_000),
    /** How long a terminal answer may be served from memory: the staleness a caller accepts (a TaskId can be reused for a new run). */
    LOOKUP_TERMINAL_TTL_MS: intFrom(0, 3_600_000, 30_000),
    /** Per-attempt limit of the lookup's archive reads and writes (2 attempts). */
    LOOKUP_ARCHIVE_TIMEOUT_MS: intFrom(50, 10_000, 1_000),
    /** With QUOTA_TABLE: the longest a lookup waits for a slot of the shared quota before answering 429. */
    LOOKUP_QUOTA_WAIT_MS: intFrom(0, 10_000, 250),
    ...ArchiveStorageEnvShape,
    ...QuotaEnvShape,
  })
  .refine(oneCredentialSource, CREDENTIAL_SOURCE_MESSAGE)
  .refine(shareFitsTheAccount, SHARE_MESSAGE)
  .refine(archiveHasRegistry, REGISTRY_MESSAGE)
  .refine((env) => bucketFits(env.LOOKUP_QPS, env.LOOKUP_BURST, env), {
    message: `LOOKUP_QPS + LOOKUP_BURST must not exceed ${BUCKET_LIMIT_TEXT}`,
    path: ['LOOKUP_QPS'],
  });
type LookupEnv = z.infer<typeof LookupEnvSchema>;

/**
 * Environment of the archiver function.
 * @example { "ARCHIVE_BUCKET": "rtc-segment-archive", "ARCHIVE_QPS": "12", "VOLC_ACCESS_KEY_ID": "AKLT..." }
 */
const ArchiverEnvSchema = /* @__PURE__ */ z
  .object({
    ...VolcEnvShape,
    ...ArchiveStorageEnvShape,
    ARCHIVE_BUCKET: ArchiveStorageEnvShape.ARCHIVE_BUCKET.unwrap(),
    REGISTRY_TABLE: TableName,
    ...QuotaEnvShape,
    /** GetSegmentTask calls per second the archiver may make; with QUOTA_TABLE its reserved share of VOLC_ACCOUNT_QPS. */
    ARCHIVE_QPS: z.coerce.number().positive().max(60).default(12),
    ARCHIVE_BURST: intFrom(1, 59, 3),
    ARCHIVE_CONCURRENCY: intFrom(1, 64, 8),
    ARCHIVE_CALL_TIMEOUT_MS: intFrom(100, 29_000, 5_000),
    /** Captures this long before StartTime + 72 h are final (polling goes on until the window closes); keep it above the interval. */
    ARCHIVE_FINAL_MARGIN_MS: intFrom(60_000, 24 * 3_600_000, 30 * 60_000),
    /** No new task is taken with less than this much Lambda time left. */
    ARCHIVE_SAFETY_MS: intFrom(1_000, 600_000, 20_000),
    /** A task Volcengine does not show yet is asked again after this long. */
    ARCHIVE_UNKNOWN_RETRY_MS: intFrom(60_000, 24 * 3_600_000, 15 * 60_000),
    /** A running run is asked again no sooner than this: with few runs watched, on every archiver run. */
    ARCHIVE_REFRESH_MS: intFrom(60_000, 24 * 3_600_000, 5 * 60_000),
    /**
     * Opt-in, for accounts whose apps never reuse a TaskId: a running run of an app not seen reusing
     * TaskIds is asked again no sooner than this (only a next run of its TaskId could cost it its
     * end). The runs of an app seen doing so are asked as often as ARCHIVE_REFRESH_MS allows. Unset:
     * ARCHIVE_REFRESH_MS, every app alike (the detection is a safety net, not a guarantee: a run that
     * ends before its app is marked loses its end if its TaskId starts again within this interval).
     */
    ARCHIVE_NO_REUSE_REFRESH_MS: z.coerce
      .number()
      .int()
      .min(60_000)
      .max(24 * 3_600_000)
      .optional(),
    /**
     * The part of ARCHIVE_QPS refreshes may plan to take: the refresh interval is the runs waiting
     * divided by it (never below ARCHIVE_REFRESH_MS); the rest is for first captures and closing windows.
     */
    ARCHIVE_REFRESH_SHARE: z.coerce.number().min(0.05).max(1).default(0.5),
    /**
     * A run whose callbacks have been silent for its MaxIdleTime (180 s by default) plus this long
     * has likely ended: it is asked about first then. Above the callback's write interval (a minute).
     */
    ARCHIVE_IDLE_MARGIN_MS: intFrom(60_000, 3_600_000, 2 * 60_000),
    ARCHIVE_API_VERSION: z.enum(['2022-06-01', '2023-11-01']).default('2023-11-01'),
    VOLC_MAX_ATTEMPTS: intFrom(1, 10, 3),
    VOLC_RETRY_BASE_MS: intFrom(1, 10_000, 100),
    VOLC_RETRY_MAX_MS: intFrom(1, 30_000, 2_000),
  })
  .refine(oneCredentialSource, CREDENTIAL_SOURCE_MESSAGE)
  .refine(shareFitsTheAccount, SHARE_MESSAGE)
  .refine((env) => bucketFits(env.ARCHIVE_QPS, env.ARCHIVE_BURST, env), {
    message: `ARCHIVE_QPS + ARCHIVE_BURST must not exceed ${BUCKET_LIMIT_TEXT}`,
    path: ['ARCHIVE_QPS'],
  });
type ArchiverEnv = z.infer<typeof ArchiverEnvSchema>;

export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

type Environment = Record<string, string | undefined>;

/** Parses `env` with `schema`; the error lists variable names and problems, not values. */
function loadEnv<S extends z.ZodType>(schema: S, env: Environment): z.infer<S> {
  // An empty variable (VAR= in a .env file) counts as unset.
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`);
  throw new ConfigurationError(`invalid configuration: ${problems.join('; ')}`);
}

/**
 * Callback SecretKeys by AppId.
 * @example { "661e3b4c9a5f7d0012a543cf": "my-callback-secret" }
 */
export const CallbackSecretsSchema = z
  .record(z.string().min(1), z.string().min(1))
  .refine((map) => Object.keys(map).length > 0, 'must name at least one AppId');

/**
 * Environment of the callback function. CALLBACK_SECRETS maps each AppId to its callback SecretKey.
 * @example { "CALLBACK_SECRETS": "{\"661e3b4c9a5f7d0012a543cf\":\"…\"}", "ARCHIVE_BUCKET": "rtc-segment-archive" }
 */
const CallbackEnvSchema = /* @__PURE__ */ z
  .object({
    /** The region named in the answers' ResponseMetadata, as for the lookups. */
    VOLC_REGION: VolcEnvShape.VOLC_REGION,
    ...ArchiveStorageEnvShape,
    ARCHIVE_BUCKET: ArchiveStorageEnvShape.ARCHIVE_BUCKET.unwrap(),
    REGISTRY_TABLE: TableName,
    /** Deployed: an SSM SecureString (or /aws/reference/secretsmanager/…) holding the same JSON object. */
    CALLBACK_SECRETS_PARAMETER: ParameterName.optional(),
    ...SecretsEnvShape,
    CALLBACK_SECRETS: z
      .string()
      .transform((text, context) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          context.addIssue({ code: 'custom', message: 'must be a JSON object of AppId to SecretKey' });
          return z.NEVER;
        }
      })
      .pipe(CallbackSecretsSchema)
      .optional(),
    /** Events whose EventTime is further than this from now are refused as replays. */
    CALLBACK_MAX_SKEW_MS: intFrom(1_000, 24 * 3_600_000, 10 * 60_000),
    /** At most 240 KiB: the published entry (the event without its Signature) must fit EventBridge's 256 KB. */
    CALLBACK_MAX_BODY_BYTES: intFrom(1_024, 245_760, 65_536),
    /** Answer within this (Volcengine waits 5 s); past it the caller gets 503 and delivers again. */
    CALLBACK_BUDGET_MS: intFrom(500, 4_900, 4_000),
    /** Per attempt of each DynamoDB and EventBridge call. */
    CALLBACK_STORAGE_TIMEOUT_MS: intFrom(50, 4_000, 1_000),
    /** The stack's event bus, where every verified event is published. */
    EVENT_BUS_NAME: z.string().regex(/^[A-Za-z0-9._/-]{1,256}$/, 'must be an EventBridge event bus name'),
    /** Locally and in tests: the EventBridge-protocol peer. */
    EVENTS_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  })
  .refine((env) => (env.CALLBACK_SECRETS === undefined) !== (env.CALLBACK_SECRETS_PARAMETER === undefined), {
    message: 'set either CALLBACK_SECRETS_PARAMETER (deployed) or CALLBACK_SECRETS (local), not both',
    path: ['CALLBACK_SECRETS'],
  });

/** Where Volcengine is and how a function signs and retries its calls. */
export interface VolcSettings {
  endpoint: string;
  region: string;
  service: string;
  /** Local runs: the keys themselves; deployed: the SSM parameter holding them. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined } | { parameter: string };
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
}

/** How secrets held in SSM are read. */
export interface SecretsSettings {
  ssmEndpoint?: string | undefined;
  cacheTtlMs: number;
}

/** The fleet-wide GetSegmentTask quota; without `table`, each instance keeps its own token bucket (`bucket`). */
export interface QuotaSettings {
  table?: string | undefined;
  dynamodbEndpoint?: string | undefined;
  region: string;
  accountQps: number;
  archiveQps: number;
  timeoutMs: number;
  fallbackQps: number;
  timing: SlotTiming;
  /** A function's own token bucket: the limiter without `table`. */
  bucket: { qps: number; burst: number };
}

/** The archive: its S3 bucket and the watch registry's DynamoDB table. */
export interface StorageSettings {
  bucket: string;
  prefix: string;
  s3: { endpoint?: string | undefined; region: string; forcePathStyle: boolean };
  registry: { table: string; endpoint?: string | undefined; region: string };
}

/** What the Volcengine client of a function needs: where, who, and its share of the quota. */
export interface UpstreamSettings {
  volc: VolcSettings;
  secrets: SecretsSettings;
  quota: QuotaSettings;
}

export interface LookupSettings extends UpstreamSettings {
  /** Undefined: lookups are live only. */
  storage: StorageSettings | undefined;
  budgets: {
    /** The whole lookup: quota wait, upstream attempts and archive work. */
    deadlineMs: number;
    /** Per attempt of each archive read and write (2 attempts); also kept of the deadline for the archive. */
    archiveCallMs: number;
    /** With the shared quota: the longest wait for a slot. */
    quotaWaitMs: number;
  };
  cache: { entries: number; terminalTtlMs: number };
}

export interface ArchiverSettings extends UpstreamSettings {
  storage: StorageSettings;
  archiver: {
    apiVersion: '2022-06-01' | '2023-11-01';
    concurrency: number;
    callTimeoutMs: number;
    finalMarginMs: number;
    safetyMs: number;
    unknownRetryMs: number;
    refreshMs: number;
    /** The shortest refresh interval of a run of an app not seen reusing TaskIds (opt-in; refreshMs unless set). */
    noReuseRefreshMs: number;
    /** The part of the archiver's rate refreshes may plan to take. */
    refreshShare: number;
    idleMarginMs: number;
  };
}

export interface CallbackSettings {
  /** The region named in the answers' ResponseMetadata. */
  volcRegion: string;
  storage: StorageSettings;
  secrets: SecretsSettings;
  /** Callback SecretKeys by AppId (local runs), or the SSM parameter holding them (deployed). */
  callbackSecrets: { byAppId: Record<string, string> } | { parameter: string };
  maxSkewMs: number;
  maxBodyBytes: number;
  budgetMs: number;
  /** Per attempt of each DynamoDB and EventBridge call. */
  storageCallMs: number;
  events: { busName: string; endpoint?: string | undefined; region: string };
}

type VolcEnv = Pick<
  LookupEnv,
  | 'VOLC_ENDPOINT'
  | 'VOLC_REGION'
  | 'VOLC_SERVICE'
  | 'VOLC_ACCESS_KEY_ID'
  | 'VOLC_SECRET_ACCESS_KEY'
  | 'VOLC_SESSION_TOKEN'
  | 'VOLC_CREDENTIALS_PARAMETER'
  | 'VOLC_MAX_ATTEMPTS'
  | 'VOLC_RETRY_BASE_MS'
  | 'VOLC_RETRY_MAX_MS'
>;

function volcOf(env: VolcEnv): VolcSettings {
  return {
    endpoint: env.VOLC_ENDPOINT,
    region: env.VOLC_REGION,
    service: env.VOLC_SERVICE,
    credentials: env.VOLC_CREDENTIALS_PARAMETER
      ? { parameter: env.VOLC_CREDENTIALS_PARAMETER }
      : { accessKeyId: env.VOLC_ACCESS_KEY_ID!, secretAccessKey: env.VOLC_SECRET_ACCESS_KEY!, sessionToken: env.VOLC_SESSION_TOKEN },
    retry: { maxAttempts: env.VOLC_MAX_ATTEMPTS, baseDelayMs: env.VOLC_RETRY_BASE_MS, maxDelayMs: env.VOLC_RETRY_MAX_MS },
  };
}

const secretsOf = (env: Pick<LookupEnv, 'SSM_ENDPOINT' | 'SECRETS_CACHE_TTL_MS'>): SecretsSettings => ({
  ssmEndpoint: env.SSM_ENDPOINT,
  cacheTtlMs: env.SECRETS_CACHE_TTL_MS,
});

function quotaOf(env: LookupEnv | ArchiverEnv, bucket: QuotaSettings['bucket']): QuotaSettings {
  return {
    table: env.QUOTA_TABLE,
    dynamodbEndpoint: env.DYNAMODB_ENDPOINT,
    region: env.AWS_REGION,
    accountQps: env.VOLC_ACCOUNT_QPS,
    archiveQps: env.ARCHIVE_QPS,
    timeoutMs: env.QUOTA_TIMEOUT_MS,
    fallbackQps: env.QUOTA_FALLBACK_QPS,
    timing: { lateMs: env.QUOTA_LATE_MS, networkMs: env.QUOTA_NETWORK_MS, clockMs: env.QUOTA_CLOCK_MS },
    bucket,
  };
}

type StorageEnv = Omit<z.infer<z.ZodObject<typeof ArchiveStorageEnvShape>>, 'ARCHIVE_BUCKET' | 'REGISTRY_TABLE'>;

function storageOf(env: StorageEnv, bucket: string, table: string): StorageSettings {
  return {
    bucket,
    prefix: env.ARCHIVE_PREFIX,
    s3: { endpoint: env.S3_ENDPOINT, region: env.S3_REGION ?? env.AWS_REGION, forcePathStyle: env.S3_FORCE_PATH_STYLE },
    registry: { table, endpoint: env.DYNAMODB_ENDPOINT, region: env.AWS_REGION },
  };
}

/** The lookup function's settings, from its environment (process.env when deployed). */
export function lookupSettings(environment: Environment): LookupSettings {
  const env = loadEnv(LookupEnvSchema, environment);
  return {
    volc: volcOf(env),
    secrets: secretsOf(env),
    quota: quotaOf(env, { qps: env.LOOKUP_QPS, burst: env.LOOKUP_BURST }),
    storage: env.ARCHIVE_BUCKET && env.REGISTRY_TABLE ? storageOf(env, env.ARCHIVE_BUCKET, env.REGISTRY_TABLE) : undefined,
    budgets: { deadlineMs: env.LOOKUP_DEADLINE_MS, archiveCallMs: env.LOOKUP_ARCHIVE_TIMEOUT_MS, quotaWaitMs: env.LOOKUP_QUOTA_WAIT_MS },
    cache: { entries: env.LOOKUP_CACHE_ENTRIES, terminalTtlMs: env.LOOKUP_TERMINAL_TTL_MS },
  };
}

/** The archiver function's settings, from its environment. */
export function archiverSettings(environment: Environment): ArchiverSettings {
  const env = loadEnv(ArchiverEnvSchema, environment);
  return {
    volc: volcOf(env),
    secrets: secretsOf(env),
    quota: quotaOf(env, { qps: env.ARCHIVE_QPS, burst: env.ARCHIVE_BURST }),
    storage: storageOf(env, env.ARCHIVE_BUCKET, env.REGISTRY_TABLE),
    archiver: {
      apiVersion: env.ARCHIVE_API_VERSION,
      concurrency: env.ARCHIVE_CONCURRENCY,
      callTimeoutMs: env.ARCHIVE_CALL_TIMEOUT_MS,
      finalMarginMs: env.ARCHIVE_FINAL_MARGIN_MS,
      safetyMs: env.ARCHIVE_SAFETY_MS,
      unknownRetryMs: env.ARCHIVE_UNKNOWN_RETRY_MS,
      refreshMs: env.ARCHIVE_REFRESH_MS,
      noReuseRefreshMs: env.ARCHIVE_NO_REUSE_REFRESH_MS ?? env.ARCHIVE_REFRESH_MS,
      refreshShare: env.ARCHIVE_REFRESH_SHARE,
      idleMarginMs: env.ARCHIVE_IDLE_MARGIN_MS,
    },
  };
}

/** The callback function's settings, from its environment. */
export function callbackSettings(environment: Environment): CallbackSettings {
  const env = loadEnv(CallbackEnvSchema, environment);
  return {
    volcRegion: env.VOLC_REGION,
    storage: storageOf(env, env.ARCHIVE_BUCKET, env.REGISTRY_TABLE),
    secrets: secretsOf(env),
    callbackSecrets: env.CALLBACK_SECRETS ? { byAppId: env.CALLBACK_SECRETS } : { parameter: env.CALLBACK_SECRETS_PARAMETER! },
    maxSkewMs: env.CALLBACK_MAX_SKEW_MS,
    maxBodyBytes: env.CALLBACK_MAX_BODY_BYTES,
    budgetMs: env.CALLBACK_BUDGET_MS,
    storageCallMs: env.CALLBACK_STORAGE_TIMEOUT_MS,
    events: { busName: env.EVENT_BUS_NAME, endpoint: env.EVENTS_ENDPOINT, region: env.AWS_REGION },
  };
}
