/** Configuration refinements: what a deploy with a wrong value is refused for, by name, at cold start. */
import { describe, expect, it } from 'vitest';
import { archiverSettings, callbackSettings, ConfigurationError, lookupSettings } from '../../lib/config.ts';

const credentials = { VOLC_ACCESS_KEY_ID: 'AKLTCONFIGTEST', VOLC_SECRET_ACCESS_KEY: 'config-test-secret' };
const refusal = (settingsOf: (env: Record<string, string>) => unknown, env: Record<string, string>) => {
  try {
    settingsOf(env);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
};

describe('the settings from the environment', () => {
  it('refuses an archiver share that leaves lookups nothing, only when the quota is shared', () => {
    const shared = {
      ...credentials,
      ARCHIVE_BUCKET: 'archive-bucket',
      REGISTRY_TABLE: 'registry-table',
      QUOTA_TABLE: 'quota-table',
      VOLC_ACCOUNT_QPS: '12',
      ARCHIVE_QPS: '12',
    };
    expect(refusal(archiverSettings, shared)).toContain('ARCHIVE_QPS must be below VOLC_ACCOUNT_QPS');
    // Alone, the archiver may use the whole account, but not burst past its second (issue 17).
    // 10 × (1,000 + 20 + 80) / 1,000 + 1 = 12: calls late and delayed by the allowances still fit the account's second.
    expect(refusal(archiverSettings, { ...shared, QUOTA_TABLE: '', ARCHIVE_QPS: '10', ARCHIVE_BURST: '1' })).toBeUndefined();
    expect(refusal(archiverSettings, { ...shared, QUOTA_TABLE: '', ARCHIVE_QPS: '11', ARCHIVE_BURST: '1' })).toContain(
      'ARCHIVE_QPS + ARCHIVE_BURST',
    );
    expect(refusal(archiverSettings, { ...shared, QUOTA_TABLE: '' })).toContain('ARCHIVE_QPS + ARCHIVE_BURST must not exceed');
  });

  it('takes exactly one credentials source and names variables, never values', () => {
    const message = refusal(lookupSettings, { ...credentials, VOLC_CREDENTIALS_PARAMETER: '/x/y' });
    expect(message).toContain('VOLC_CREDENTIALS_PARAMETER');
    expect(message).not.toContain(credentials.VOLC_SECRET_ACCESS_KEY);
  });

  it('takes the archive and its watch registry together, or neither (lookups are then live only)', () => {
    expect(refusal(lookupSettings, { ...credentials, ARCHIVE_BUCKET: 'archive-bucket' })).toContain('REGISTRY_TABLE');
    expect(refusal(lookupSettings, { ...credentials, REGISTRY_TABLE: 'registry-table' })).toContain('REGISTRY_TABLE');
    expect(refusal(lookupSettings, { ...credentials, ARCHIVE_BUCKET: 'archive-bucket', REGISTRY_TABLE: 'registry-table' })).toBeUndefined();
    expect(refusal(archiverSettings, { ...credentials, ARCHIVE_BUCKET: 'archive-bucket' })).toContain('REGISTRY_TABLE');
  });

  it('counts an empty variable as unset and applies the defaults', () => {
    const settings = lookupSettings({ ...credentials, LOOKUP_TERMINAL_TTL_MS: '' });
    expect(settings).toMatchObject({
      cache: { terminalTtlMs: 30_000 },
      budgets: { deadlineMs: 5_000, quotaWaitMs: 250 },
      quota: { accountQps: 60, archiveQps: 12 },
    });
  });

  it("refreshes every app's runs alike unless ARCHIVE_NO_REUSE_REFRESH_MS opts in", () => {
    const archive = { ...credentials, ARCHIVE_BUCKET: 'archive-bucket', REGISTRY_TABLE: 'registry-table' };
    expect(archiverSettings(archive).archiver).toMatchObject({ refreshMs: 300_000, noReuseRefreshMs: 300_000 });
    const emptyOptIn = archiverSettings({ ...archive, ARCHIVE_REFRESH_MS: '600000', ARCHIVE_NO_REUSE_REFRESH_MS: '' });
    expect(emptyOptIn.archiver.noReuseRefreshMs).toBe(600_000);
    expect(archiverSettings({ ...archive, ARCHIVE_NO_REUSE_REFRESH_MS: '1200000' }).archiver.noReuseRefreshMs).toBe(1_200_000);
    expect(refusal(archiverSettings, { ...archive, ARCHIVE_NO_REUSE_REFRESH_MS: '1000' })).toContain('ARCHIVE_NO_REUSE_REFRESH_MS');
  });
});

describe('callbackSettings', () => {
  it('reads the region of its answers from VOLC_REGION, like the other functions', () => {
    const base = {
      ARCHIVE_BUCKET: 'archive-bucket',
      REGISTRY_TABLE: 'registry-table',
      CALLBACK_SECRETS: '{"app":"secret"}',
      EVENT_BUS_NAME: 'rtc-segment-tasks-dev-callbacks',
    };
    expect(callbackSettings(base).volcRegion).toBe('cn-north-1');
    expect(callbackSettings({ ...base, VOLC_REGION: 'ap-singapore-1' }).volcRegion).toBe('ap-singapore-1');
  });

  it('needs the event bus, and keeps bodies small enough for one EventBridge entry', () => {
    const base = { REGISTRY_TABLE: 'registry-table', ARCHIVE_BUCKET: 'archive-bucket', CALLBACK_SECRETS: '{"app":"secret"}' };
    expect(() => callbackSettings(base)).toThrow(/EVENT_BUS_NAME/);
    const withBus = { ...base, EVENT_BUS_NAME: 'bus' };
    expect(callbackSettings({ ...withBus, CALLBACK_MAX_BODY_BYTES: '245760' }).maxBodyBytes).toBe(245_760);
    expect(() => callbackSettings({ ...withBus, CALLBACK_MAX_BODY_BYTES: '1048576' })).toThrow(/CALLBACK_MAX_BODY_BYTES/);
  });
});
