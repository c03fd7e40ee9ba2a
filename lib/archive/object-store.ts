/**
 * The S3 operations the archive relies on, on @aws-sdk/client-s3: JSON GET, conditional PUT
 * (If-None-Match: * / If-Match), DELETE and paginated LIST. Works with AWS S3, Volcengine TOS
 * and MinIO (endpoint, region and path-style are configurable).
 */
import { awsClientConfig } from '../aws-client.ts';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';

export interface ObjectStoreOptions {
  bucket: string;
  endpoint?: string | undefined;
  region: string;
  forcePathStyle: boolean;
  /** Attempts per S3 call (the SDK's standard retry strategy). */
  maxAttempts?: number;
  /** Per-attempt time limit. */
  requestTimeoutMs?: number;
  /** Sent as the SDK's customUserAgent (names the calling function). */
  userAgent?: string | undefined;
}

export interface StoredJson {
  body: unknown;
  etag: string;
}

export type PutCondition = { ifNoneMatch: true } | { ifMatch: string } | undefined;

export interface ListPage {
  keys: string[];
  nextToken: string | undefined;
}

/** The write lost a race: the object exists (If-None-Match) or changed (If-Match). */
export class PreconditionFailed extends Error {
  override name = 'PreconditionFailed';
}

/** S3 refused a LIST continuation token it did not issue (or no longer accepts). */
export class InvalidListToken extends Error {
  override name = 'InvalidListToken';
}

export interface ListOptions {
  token?: string | undefined;
  /** Keys after this one only (S3's StartAfter). */
  startAfter?: string | undefined;
  /** At most 1,000 (S3's page size). */
  maxKeys?: number;
}

/**
 * The object-store port the archive is written against: JSON GET, conditional PUT, DELETE and
 * key-ordered LIST pages. S3ObjectStore implements it over S3; MemoryObjectStore in memory.
 */
export interface ObjectStore {
  /** Undefined when the key does not exist. */
  getJson(key: string): Promise<StoredJson | undefined>;
  /** Writes `value` as JSON; throws PreconditionFailed when the condition does not hold. */
  putJson(key: string, value: unknown, condition?: PutCondition): Promise<string>;
  delete(key: string): Promise<void>;
  listPage(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Every key under `prefix`, in key order, one page (≤ 1000 keys) in memory at a time. */
  keys(prefix: string): AsyncGenerator<string>;
}

/** Every key under `prefix` from `store`'s pages. */
export async function* keysOf(store: Pick<ObjectStore, 'listPage'>, prefix: string): AsyncGenerator<string> {
  let token: string | undefined;
  do {
    const page = await store.listPage(prefix, { token });
    yield* page.keys;
    token = page.nextToken;
  } while (token);
}

export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  // Not #private: a view made by cutBy (lib/archive/access.ts) reads them through its prototype.
  private readonly s3: S3Client;
  /** Each request's options: its abortSignal on a view made by cutBy. */
  private readonly sent: { abortSignal?: AbortSignal } = {};

  constructor(options: ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.s3 = new S3Client({
      ...awsClientConfig(options),
      forcePathStyle: options.forcePathStyle,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async getJson(key: string): Promise<StoredJson | undefined> {
    try {
      const answer = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), this.sent);
      const text = await answer.Body!.transformToString('utf8');
      return { body: JSON.parse(text), etag: answer.ETag ?? '' };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Writes `value` as JSON; throws PreconditionFailed when the condition does not hold. */
  async putJson(key: string, value: unknown, condition?: PutCondition): Promise<string> {
    try {
      const answer = await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: JSON.stringify(value),
          ContentType: 'application/json',
          ...(condition && 'ifNoneMatch' in condition ? { IfNoneMatch: '*' } : {}),
          ...(condition && 'ifMatch' in condition ? { IfMatch: condition.ifMatch } : {}),
        }),
        this.sent,
      );
      return answer.ETag ?? '';
    } catch (error) {
      // 409 ConditionalRequestConflict: AWS's answer to two conditional writes racing on one key.
      if (statusOf(error) === 412 || statusOf(error) === 409)
        throw new PreconditionFailed(`conditional write to ${key} lost`, { cause: error });
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), this.sent);
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const answer = await this.s3
      .send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          MaxKeys: options.maxKeys ?? 1000,
          ...(options.token ? { ContinuationToken: options.token } : {}),
          ...(options.startAfter ? { StartAfter: options.startAfter } : {}),
        }),
        this.sent,
      )
      .catch((error: unknown) => {
        if (options.token && statusOf(error) === 400) throw new InvalidListToken('the continuation token was refused', { cause: error });
        throw error;
      });
    return {
      keys: (answer.Contents ?? []).map((o) => o.Key!).filter(Boolean),
      nextToken: answer.IsTruncated ? answer.NextContinuationToken : undefined,
    };
  }

  keys(prefix: string): AsyncGenerator<string> {
    return keysOf(this, prefix);
  }
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode;
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
