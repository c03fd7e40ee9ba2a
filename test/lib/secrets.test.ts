/** Secrets from SSM (SecureString) through the real SSM client, against a loopback SSM peer. */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cachedParameter, SecretUnavailableError } from '../../lib/secrets.ts';
import { SsmTestServer } from '../ssm/ssm-server.ts';
import { STS_CREDENTIALS, TEST_CREDENTIALS } from '../support/credentials.ts';
import { startLookupStack } from '../support/lookup-stack.ts';

let ssm: SsmTestServer;
let endpoint: string;
beforeAll(async () => {
  ssm = new SsmTestServer();
  endpoint = await ssm.start();
  process.env.AWS_REGION ??= 'us-east-1';
});
afterAll(() => ssm.stop());

describe('cachedParameter', () => {
  afterEach(() => vi.useRealTimers());

  it('reads once per TTL, keeps the last good value when SSM fails, and names only the parameter', async () => {
    // Prepare: Powertools' cache reads Date, so only Date is faked; the SSM peer answers in real time.
    vi.useFakeTimers({ toFake: ['Date'] });
    ssm.parameters.set('/test/p1', 'value-1');
    const read = cachedParameter('/test/p1', { ttlMs: 1000, endpoint });
    const before = ssm.calls;
    // Act + Assess: concurrent readers share one fetch, a fresh value is served from the cache.
    expect(await Promise.all([read(), read(), read()])).toEqual(['value-1', 'value-1', 'value-1']);
    expect(await read()).toBe('value-1');
    expect(ssm.calls - before).toBe(1);
    ssm.parameters.set('/test/p1', 'value-2');
    vi.advanceTimersByTime(999);
    expect(await read()).toBe('value-1');
    vi.advanceTimersByTime(2);
    expect(await read()).toBe('value-2');
    expect(ssm.calls - before).toBe(2);
    vi.advanceTimersByTime(1001);
    ssm.failing = true;
    expect(await read()).toBe('value-2');
    const missing = cachedParameter('/test/missing', { ttlMs: 1000, endpoint });
    const error = await missing().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecretUnavailableError);
    expect((error as Error).message).toContain('/test/missing');
    expect((error as Error).message).not.toContain('value-');
    ssm.failing = false;
  });
});

describe('lookup with credentials from SSM', () => {
  it('signs with the SecureString credentials, reads them once, and answers 500 without details when SSM cannot give them', async () => {
    ssm.parameters.set(
      '/rtc/volc',
      JSON.stringify({
        AccessKeyId: STS_CREDENTIALS.accessKeyId,
        SecretAccessKey: STS_CREDENTIALS.secretAccessKey,
        SessionToken: STS_CREDENTIALS.sessionToken,
      }),
    );
    const stack = await startLookupStack({
      env: { VOLC_ACCESS_KEY_ID: '', VOLC_SECRET_ACCESS_KEY: '', VOLC_CREDENTIALS_PARAMETER: '/rtc/volc', SSM_ENDPOINT: endpoint },
    });
    const broken = await startLookupStack({
      env: { VOLC_ACCESS_KEY_ID: '', VOLC_SECRET_ACCESS_KEY: '', VOLC_CREDENTIALS_PARAMETER: '/rtc/absent', SSM_ENDPOINT: endpoint },
    });
    try {
      stack.emulator.seedTask({ appId: 'a', roomId: 'r', taskId: 't' });
      const before = ssm.calls;
      const answers = [await stack.get('a', 'r', 't'), await stack.get('a', 'r', 't')];
      expect(answers.map((a) => a.statusCode)).toEqual([200, 200]);
      expect(ssm.calls - before).toBe(1);
      expect(ssm.userAgents.at(-1)).toContain('rtc-segment-tasks/lookup');
      const failed = await broken.get('a', 'r', 't');
      expect(failed.statusCode).toBe(500);
      expect(failed.json.ResponseMetadata.Error.Code).toBe('InternalError');
      expect(failed.body).not.toContain('/rtc/absent');
      expect(broken.emulator.received).toHaveLength(0);
    } finally {
      await stack.stop();
      await broken.stop();
    }
  });

  it('refuses a configuration with both or neither credential source', async () => {
    await expect(startLookupStack({ env: { VOLC_CREDENTIALS_PARAMETER: '/rtc/volc' } })).rejects.toThrow('VOLC_CREDENTIALS_PARAMETER');
    await expect(
      startLookupStack({ env: { VOLC_ACCESS_KEY_ID: '', VOLC_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey } }),
    ).rejects.toThrow('VOLC_ACCESS_KEY_ID');
  });
});
