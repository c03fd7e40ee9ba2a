/**
 * Secret scan: runs lookups, archive actions, archiver runs and callbacks (successes, caller
 * errors, upstream faults, storage faults) with recognisable fake credentials, StorageConfig keys
 * and a callback SecretKey, then scans everything observable for them: every response body and
 * header, every log line and error logged, and every object in the bucket. Expects 0 hits.
 */
import { describe, expect, it } from 'vitest';
import { buildArchiver } from '../../lib/archive/build.ts';
import { archiverSettings } from '../../lib/config.ts';
import type { HttpResult } from '../../lib/http/http-function.ts';
import { callbackEvent, testCallbackHandler } from '../support/callback-stack.ts';
import { ALL_SECRETS, STORAGE_SECRETS, TEST_CREDENTIALS } from '../support/credentials.ts';
import { getTaskQuery, httpEvent, lambdaContext } from '../support/http-events.ts';
import { captureOutput } from '../support/logs.ts';
import { startLookupStack } from '../support/lookup-stack.ts';

const CALLBACK_SECRET = 'FAKE-CALLBACK-SECRET-must-never-leak-61d0';
const SECRETS = [...ALL_SECRETS, CALLBACK_SECRET];

describe('secret scan', () => {
  it('finds none of the secrets in responses, logs, errors, the bucket or the event bus', async () => {
    const output = captureOutput();
    const observed: string[] = [];
    const record = (result: HttpResult) => observed.push(JSON.stringify(result.headers), result.body);
    let hits: Array<{ secret: string; where: string }> = [];
    try {
      // Prepare: lookup + archive + callback on one bucket; Volcengine echoes the storage keys
      const stack = await startLookupStack({
        archive: true,
        emulator: { echoStorageSecrets: true },
        logLevel: 'DEBUG',
        env: { LOOKUP_DEADLINE_MS: '400' },
      });
      const access = stack.archive!;
      const storageConfig = { Type: 2, CustomConfig: { Vendor: 0, Region: 0, Bucket: 'customer-bucket', ...STORAGE_SECRETS } };
      for (const taskId of ['running', 'done', 'old']) {
        stack.emulator.seedTask({
          appId: 'app',
          roomId: 'room',
          taskId,
          storageConfig,
          ...(taskId === 'done' ? { status: 3, stopReason: 'StopByAPI' } : {}),
        });
      }
      const callback = testCallbackHandler({
        registry: access.registry,
        publisher: stack.archive!.publisher,
        secrets: { app: CALLBACK_SECRET },
        now: stack.clock.now,
        logLevel: 'DEBUG',
      });
      const lookup = async (query: Array<[string, string]> | string) => record(await stack.invoke(httpEvent(query)));
      const deliver = async (body: unknown) => record((await callback(callbackEvent(JSON.stringify(body)), lambdaContext())) as HttpResult);

      // Act: lookups of every kind
      for (const taskId of ['running', 'done', 'old', 'missing']) await lookup(getTaskQuery('app', 'room', taskId));
      await lookup('Action=GetSegmentTask&Version=2023-11-01&AppId=app&RoomId=room&TaskId=%00');
      for (const kind of [
        'http5xx',
        'latency',
        'reset',
        'malformed-json',
        'truncated-json',
        'extra-fields',
        'missing-fields',
        'throttle',
      ] as const) {
        stack.emulator.inject({ kind, latencyMs: 2_000 });
        await lookup(getTaskQuery('app', 'room', 'running'));
        stack.emulator.clearFaults();
      }
      await lookup([
        ['Action', 'WatchSegmentTask'],
        ['Version', '2023-11-01'],
        ['AppId', 'app'],
        ['RoomId', 'room'],
        ['TaskId', 'old'],
      ]);
      // archiver runs, one with storage failing
      const { run } = buildArchiver(
        archiverSettings({
          ...access.env,
          VOLC_ENDPOINT: stack.emulator.url,
          VOLC_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
          VOLC_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
          ARCHIVE_CALL_TIMEOUT_MS: '1000',
          ARCHIVE_CONCURRENCY: '4',
          ARCHIVE_UNKNOWN_RETRY_MS: '60000',
        }),
        { access: { archive: access.archive, registry: access.registry }, now: stack.clock.now },
      );
      const archiverRun = (tick: number) =>
        run({
          tick,
          owner: 'secret-scan',
          timeLeftMs: () => Number.POSITIVE_INFINITY,
          safetyMs: 0,
          onError: (error: unknown) => observed.push(String(error), JSON.stringify(error, Object.getOwnPropertyNames(error ?? {}))),
        });
      stack.s3!.inject({ kind: 'http5xx', operation: 'PUT', after: 2 });
      observed.push(JSON.stringify(await archiverRun(stack.clock.now())));
      stack.s3!.clearFaults();
      observed.push(JSON.stringify(await archiverRun(stack.clock.now() + 1)));
      stack.clock.advance(73 * 3_600_000);
      await lookup(getTaskQuery('app', 'room', 'old'));
      for (const action of ['ListSegmentTaskSnapshots', 'ListArchivedSegmentTasks']) {
        await lookup([
          ['Action', action],
          ['Version', '2023-11-01'],
          ['AppId', 'app'],
          ['RoomId', 'room'],
          ['TaskId', 'old'],
        ]);
      }
      // callbacks: valid, duplicate, forged, unmatched
      stack.clock.set(Date.now());
      const task = stack.emulator.seedTask({ appId: 'app', roomId: 'room', taskId: 'cb', storageConfig });
      const event = stack.emulator.segmentEvent(task, CALLBACK_SECRET);
      await deliver(event);
      await deliver(event);
      await deliver({ ...event, Signature: '0'.repeat(64) });
      await deliver({ ...event, EventData: 'not json' });
      // a lookup signed with a wrong secret (the wrong value must not leak either)
      const wrong = await startLookupStack({
        env: { VOLC_SECRET_ACCESS_KEY: `${TEST_CREDENTIALS.secretAccessKey}-wrong` },
        logLevel: 'DEBUG',
      });
      record(await wrong.invoke(httpEvent(getTaskQuery('app', 'room', 'running'))));
      await wrong.stop();

      // Collect the bucket, the registry and the event bus
      const bucket = [...(await access.dump()).entries()].flat();
      const published = stack.archive!.events.published.map((entry) => JSON.stringify(entry));
      await stack.stop();

      // Assess
      const logs = output.text();
      const everything: Array<[string, string]> = [
        ...observed.map((text): [string, string] => ['response or error', text]),
        ['logs', logs],
        ...bucket.map((text): [string, string] => ['bucket', text]),
        ...published.map((text): [string, string] => ['event bus', text]),
      ];
      hits = SECRETS.flatMap((secret) =>
        everything.filter(([, text]) => text.includes(secret)).map(([where]) => ({ secret: `${secret.slice(0, 6)}…`, where })),
      );
      expect(observed.length).toBeGreaterThan(20);
      expect(bucket.length).toBeGreaterThan(10);
      expect(logs).toContain('request finished');
      expect(bucket.join('\n')).toContain('customer-bucket');
      // The verified event and its redelivery were published; the forged and the tampered ones were not.
      expect(published).toHaveLength(2);
    } finally {
      output.restore();
    }
    console.log(JSON.stringify({ secrets_scanned: SECRETS.length, secrets_found: hits.length }));
    expect(hits).toEqual([]);
  }, 120_000);
});
