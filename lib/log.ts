/** Structured JSON logs and metrics (Powertools). Credentials are never passed to the logger. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const SERVICE_NAME = 'rtc-segment-tasks';

export function createLogger(functionName: string): Logger {
  return new Logger({ serviceName: SERVICE_NAME, persistentKeys: { function: functionName } });
}

/** Metrics in the RtcSegmentTasks namespace, with the function as a dimension (the alarms and the dashboard use both). */
export function createMetrics(functionName: 'lookup' | 'callback' | 'archive'): Metrics {
  return new Metrics({ namespace: 'RtcSegmentTasks', serviceName: SERVICE_NAME, defaultDimensions: { function: functionName } });
}
