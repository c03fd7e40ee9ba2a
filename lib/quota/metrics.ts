/** The shared quota's counters as Powertools metrics (the catalogue's QUOTA_METRICS), published with each invocation's. */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { publishMetric, QUOTA_METRICS } from '../metrics.ts';
import type { QuotaStats } from './fleet-limiter.ts';

export function addQuotaMetrics(metrics: Metrics, stats: QuotaStats): void {
  publishMetric(metrics, QUOTA_METRICS, 'QuotaTokensTaken', stats.tokensTaken);
  publishMetric(metrics, QUOTA_METRICS, 'QuotaTokensDenied', stats.tokensDenied);
  publishMetric(metrics, QUOTA_METRICS, 'QuotaWait', stats.waitMs);
  publishMetric(metrics, QUOTA_METRICS, 'QuotaFallbacks', stats.fallbacks);
  publishMetric(metrics, QUOTA_METRICS, 'QuotaSlotsMissed', stats.slotsMissed);
  publishMetric(metrics, QUOTA_METRICS, 'QuotaTableCalls', stats.tableCalls);
}
