/** One instance alone (no QUOTA_TABLE): its bucket never lets it burst past the account's second. */
import { describe, expect, it } from 'vitest';
import { archiverSettings, ConfigurationError, lookupSettings } from '../../../lib/config.ts';

const CREDENTIALS = {
  VOLC_ACCESS_KEY_ID: 'AKLTTEST',
  VOLC_SECRET_ACCESS_KEY: 'secret',
  ARCHIVE_BUCKET: 'archive-bucket',
  REGISTRY_TABLE: 'registry-table',
};

describe('the per-instance bucket against the account', () => {
  it("refuses a rate and burst past VOLC_ACCOUNT_QPS without QUOTA_TABLE (the archiver's 6 + 3 under an account of 8)", () => {
    const archiver = { ...CREDENTIALS, VOLC_ACCOUNT_QPS: '8', ARCHIVE_QPS: '6' };
    expect(() => archiverSettings(archiver)).toThrow(ConfigurationError);
    expect(() => archiverSettings(archiver)).toThrow(/ARCHIVE_QPS: ARCHIVE_QPS \+ ARCHIVE_BURST must not exceed/);
    expect(archiverSettings({ ...archiver, ARCHIVE_BURST: '1' }).quota).toMatchObject({ archiveQps: 6, bucket: { qps: 6, burst: 1 } });
    expect(() => lookupSettings({ ...CREDENTIALS, VOLC_ACCOUNT_QPS: '30' })).toThrow(/LOOKUP_QPS \+ LOOKUP_BURST/);
  });

  it('counts the rate over the second plus the late and network allowances: 55 + 5 may arrive as 65 in a second', () => {
    const lookup = { ...CREDENTIALS, LOOKUP_QPS: '55', LOOKUP_BURST: '5' };
    expect(() => lookupSettings(lookup)).toThrow(/LOOKUP_QPS \+ LOOKUP_BURST must not exceed/);
    expect(() => lookupSettings({ ...lookup, QUOTA_LATE_MS: '1', QUOTA_NETWORK_MS: '0' })).toThrow(/LOOKUP_QPS \+ LOOKUP_BURST/);
    // 50 × (1,000 + 20 + 80) / 1,000 + 5 = 60: exactly the account's second.
    expect(lookupSettings({ ...lookup, LOOKUP_QPS: '50' }).quota).toMatchObject({ bucket: { qps: 50, burst: 5 } });
    // The archiver's 6 + 2 under an account of 8 (accepted before): 6.6 + 2 > 8.
    const archiver = { ...CREDENTIALS, VOLC_ACCOUNT_QPS: '8', ARCHIVE_QPS: '6', ARCHIVE_BURST: '2' };
    expect(() => archiverSettings(archiver)).toThrow(/ARCHIVE_QPS \+ ARCHIVE_BURST must not exceed/);
  });

  it('leaves the bucket to 60 with QUOTA_TABLE, where the shared quota bounds the account', () => {
    const env = { ...CREDENTIALS, QUOTA_TABLE: 'quota-table', VOLC_ACCOUNT_QPS: '30' };
    expect(lookupSettings(env).quota).toMatchObject({ bucket: { qps: 40, burst: 5 }, accountQps: 30 });
  });

  it('reads the slot allowances, late, network and clock, with their defaults', () => {
    expect(lookupSettings(CREDENTIALS).quota.timing).toEqual({ lateMs: 20, networkMs: 80, clockMs: 0 });
    expect(lookupSettings({ ...CREDENTIALS, QUOTA_LATE_MS: '25', QUOTA_NETWORK_MS: '0', QUOTA_CLOCK_MS: '15' }).quota.timing).toEqual({
      lateMs: 25,
      networkMs: 0,
      clockMs: 15,
    });
    expect(() => lookupSettings({ ...CREDENTIALS, QUOTA_LATE_MS: '0' })).toThrow(/QUOTA_LATE_MS/);
  });
});
