/** Configuration refinements: what a deploy with a wrong value is refused for, by name, at cold start. */
import { describe, expect, it } from 'vitest';
import { ArchiverEnvSchema, ConfigurationError, LookupEnvSchema, loadEnv } from '../../lib/config.ts';

const credentials = { VOLC_ACCESS_KEY_ID: 'AKLTCONFIGTEST', VOLC_SECRET_ACCESS_KEY: 'config-test-secret' };
const refusal = (schema: Parameters<typeof loadEnv>[0], env: Record<string, string>) => {
  try {
    loadEnv(schema, env);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
};

describe('loadEnv', () => {
  it('refuses a lookup deadline that leaves the function timeout no margin', () => {
    expect(refusal(LookupEnvSchema, { ...credentials, LOOKUP_DEADLINE_MS: '9000', LOOKUP_FUNCTION_TIMEOUT_S: '10' })).toContain(
      'LOOKUP_DEADLINE_MS',
    );
    expect(refusal(LookupEnvSchema, { ...credentials, LOOKUP_DEADLINE_MS: '8000', LOOKUP_FUNCTION_TIMEOUT_S: '10' })).toBeUndefined();
  });

  it('refuses an archiver share that leaves lookups nothing, only when the quota is shared', () => {
    const shared = {
      ...credentials,
      ARCHIVE_BUCKET: 'archive-bucket',
      REGISTRY_TABLE: 'registry-table',
      QUOTA_TABLE: 'quota-table',
      VOLC_ACCOUNT_QPS: '12',
      ARCHIVE_QPS: '12',
    };
    expect(refusal(ArchiverEnvSchema, shared)).toContain('ARCHIVE_QPS must be below VOLC_ACCOUNT_QPS');
    // Alone, the archiver may use the whole account, but not burst past its second (issue 17).
    expect(refusal(ArchiverEnvSchema, { ...shared, QUOTA_TABLE: '', ARCHIVE_QPS: '11', ARCHIVE_BURST: '1' })).toBeUndefined();
    expect(refusal(ArchiverEnvSchema, { ...shared, QUOTA_TABLE: '' })).toContain('ARCHIVE_QPS + ARCHIVE_BURST must not exceed');
  });

  it('takes exactly one credentials source and names variables, never values', () => {
    const message = refusal(LookupEnvSchema, { ...credentials, VOLC_CREDENTIALS_PARAMETER: '/x/y' });
    expect(message).toContain('VOLC_CREDENTIALS_PARAMETER');
    expect(message).not.toContain(credentials.VOLC_SECRET_ACCESS_KEY);
  });

  it('takes the archive and its watch registry together, or neither (lookups are then live only)', () => {
    expect(refusal(LookupEnvSchema, { ...credentials, ARCHIVE_BUCKET: 'archive-bucket' })).toContain('REGISTRY_TABLE');
    expect(refusal(LookupEnvSchema, { ...credentials, REGISTRY_TABLE: 'registry-table' })).toContain('REGISTRY_TABLE');
    expect(
      refusal(LookupEnvSchema, { ...credentials, ARCHIVE_BUCKET: 'archive-bucket', REGISTRY_TABLE: 'registry-table' }),
    ).toBeUndefined();
    expect(refusal(ArchiverEnvSchema, { ...credentials, ARCHIVE_BUCKET: 'archive-bucket' })).toContain('REGISTRY_TABLE');
  });

  it('counts an empty variable as unset and applies the defaults', () => {
    const env = loadEnv(LookupEnvSchema, { ...credentials, LOOKUP_TERMINAL_TTL_MS: '' });
    expect(env).toMatchObject({
      LOOKUP_TERMINAL_TTL_MS: 30_000,
      LOOKUP_DEADLINE_MS: 5_000,
      VOLC_ACCOUNT_QPS: 60,
      ARCHIVE_QPS: 12,
      LOOKUP_QUOTA_WAIT_MS: 250,
    });
  });
});

describe('CallbackEnvSchema', () => {
  it('reads the region of its answers from VOLC_REGION, like the other functions', async () => {
    const { CallbackEnvSchema } = await import('../../lib/config.ts');
    const base = {
      ARCHIVE_BUCKET: 'archive-bucket',
      REGISTRY_TABLE: 'registry-table',
      CALLBACK_SECRETS: '{"app":"secret"}',
      EVENT_BUS_NAME: 'rtc-segment-tasks-dev-callbacks',
    };
    expect(loadEnv(CallbackEnvSchema, base).VOLC_REGION).toBe('cn-north-1');
    expect(loadEnv(CallbackEnvSchema, { ...base, VOLC_REGION: 'ap-singapore-1' }).VOLC_REGION).toBe('ap-singapore-1');
  });

  it('needs the event bus, and keeps bodies small enough for one EventBridge entry', async () => {
    const { CallbackEnvSchema } = await import('../../lib/config.ts');
    const base = { REGISTRY_TABLE: 'registry-table', ARCHIVE_BUCKET: 'archive-bucket', CALLBACK_SECRETS: '{"app":"secret"}' };
    expect(() => loadEnv(CallbackEnvSchema, base)).toThrow(/EVENT_BUS_NAME/);
    const withBus = { ...base, EVENT_BUS_NAME: 'bus' };
    expect(loadEnv(CallbackEnvSchema, { ...withBus, CALLBACK_MAX_BODY_BYTES: '245760' }).CALLBACK_MAX_BODY_BYTES).toBe(245_760);
    expect(() => loadEnv(CallbackEnvSchema, { ...withBus, CALLBACK_MAX_BODY_BYTES: '1048576' })).toThrow(/CALLBACK_MAX_BODY_BYTES/);
  });
});
