/** The shared quota's counters as Powertools metrics, published with each invocation's. */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { QuotaStats } from './fleet-limiter.ts';

export function addQuotaMetrics(metrics: Metrics, stats: QuotaStats): void {
  metrics.addMetric('QuotaTokensTaken', MetricUnit.Count, stats.tokensTaken);
  metrics.addMetric('QuotaTokensDenied', MetricUnit.Count, stats.tokensDenied);
  metrics.addMetric('QuotaWait', MetricUnit.Milliseconds, stats.waitMs);
  metrics.addMetric('QuotaFallbacks', MetricUnit.Count, stats.fallbacks);
  metrics.addMetric('QuotaSlotsMissed', MetricUnit.Count, stats.slotsMissed);
  metrics.addMetric('QuotaTableCalls', MetricUnit.Count, stats.tableCalls);
}
