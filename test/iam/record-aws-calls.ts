/**
 * Records every AWS SDK call the functions make while the test suites run (vitest setup file):
 * the client's `send` is wrapped, as an SDK middleware would be, and each call is written with
 * the function that made it, its action, its target and whether an S3 key was missing. The IAM
 * evaluation (test/iam/iam.test.ts, run after the suites) reads these files.
 *
 * The function is told by the client's user agent (rtc-segment-tasks/<function>, set by each function's
 * wiring) or, for clients the tests build, by the call stack (lib/archive/archiver.ts and handler.ts,
 * lib/callback/, lib/lookup/); calls made by
 * test scaffolding (seeding a bucket) belong to no function and are not evaluated.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SSMClient } from '@aws-sdk/client-ssm';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';

export const RECORD_DIR = resolve(import.meta.dirname, '../../.iam-calls');

export interface RecordedCall {
  fn: 'lookup' | 'callback' | 'archive';
  service: 's3' | 'dynamodb' | 'ssm' | 'events';
  command: string;
  bucket?: string;
  key?: string;
  prefix?: string;
  table?: string;
  /** A Query's global index. */
  index?: string;
  parameter?: string;
  /** The event buses a PutEvents named, one per entry. */
  buses?: string[];
  /** The object did not exist (S3 answered 404 to a GET). */
  missing?: boolean;
}

const FUNCTION_OF_FRAME: Array<[RegExp, RecordedCall['fn']]> = [
  [/\/lib\/archive\/(archiver|handler)\.ts/, 'archive'],
  [/\/lib\/callback\//, 'callback'],
  [/\/lib\/lookup\//, 'lookup'],
];

function functionOf(stack: string, userAgent: unknown): RecordedCall['fn'] | undefined {
  // A packaged function booted in a process of its own (test/deploy/boot.test.ts) says which it is.
  const booted = process.env.IAM_RECORD_FUNCTION;
  if (booted === 'lookup' || booted === 'callback' || booted === 'archive') return booted;
  const agent = JSON.stringify(userAgent ?? '');
  for (const fn of ['lookup', 'callback', 'archive'] as const) if (agent.includes(`rtc-segment-tasks/${fn}`)) return fn;
  for (const [pattern, fn] of FUNCTION_OF_FRAME) if (pattern.test(stack)) return fn;
  return undefined;
}

function target(service: RecordedCall['service'], input: Record<string, any>): Partial<RecordedCall> {
  if (service === 's3')
    return {
      bucket: input.Bucket,
      ...(input.Key === undefined ? {} : { key: input.Key }),
      ...(input.Prefix === undefined ? {} : { prefix: input.Prefix }),
    };
  if (service === 'dynamodb') return { table: input.TableName, ...(input.IndexName === undefined ? {} : { index: input.IndexName }) };
  if (service === 'events')
    return { buses: (input.Entries ?? []).map((entry: { EventBusName?: string }) => entry.EventBusName ?? 'default') };
  return { parameter: input.Name };
}

function wrap(client: { prototype: { send: (...args: any[]) => Promise<unknown> } }, service: RecordedCall['service']): void {
  const original = Object.getPrototypeOf(client.prototype).send as (...args: any[]) => Promise<unknown>;
  client.prototype.send = async function (
    this: { config: { customUserAgent?: unknown } },
    command: { constructor: { name: string }; input: Record<string, any> },
    ...rest: any[]
  ) {
    const fn = functionOf(new Error().stack ?? '', this.config?.customUserAgent);
    const call: Partial<RecordedCall> = {
      fn,
      service,
      command: command.constructor.name.replace(/Command$/, ''),
      ...target(service, command.input),
    };
    try {
      return await original.call(this, command, ...rest);
    } catch (error) {
      if (service === 's3' && (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) call.missing = true;
      throw error;
    } finally {
      if (fn) appendFileSync(`${RECORD_DIR}/calls-${process.pid}.jsonl`, `${JSON.stringify(call)}\n`);
    }
  };
}

mkdirSync(RECORD_DIR, { recursive: true });
wrap(S3Client as never, 's3');
wrap(DynamoDBClient as never, 'dynamodb');
wrap(SSMClient as never, 'ssm');
wrap(EventBridgeClient as never, 'events');
