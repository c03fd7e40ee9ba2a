/** Secrets from SSM (SecureString) through the real SSM client, against a loopback SSM peer. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  it('reads once per TTL, keeps the last good value when SSM fails, and names only the parameter', async () => {
    let now = 0;
    ssm.parameters.set('/test/p1', 'value-1');
    const read = cachedParameter('/test/p1', { ttlMs: 1000, endpoint, now: () => now });
    const before = ssm.calls;
    expect(await Promise.all([read(), read(), read()])).toEqual(['value-1', 'value-1', 'value-1']);
    expect(ssm.calls - before).toBe(1);
    now = 2000;
    ssm.failing = true;
    expect(await read()).toBe('value-1');
    const missing = cachedParameter('/test/missing', { ttlMs: 1000, endpoint });
    await expect(missing()).rejects.toThrow(SecretUnavailableError);
    await expect(missing()).rejects.toThrow('/test/missing');
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
