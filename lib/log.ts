/** Structured JSON logs and metrics (Powertools). Credentials are never passed to the logger. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const SERVICE_NAME = 'rtc-segment-tasks';

export type FunctionName = 'lookup' | 'callback' | 'archive';

/** The user agent a function's AWS SDK clients send, so CloudTrail and S3 access logs name the function. */
export const userAgentOf = (functionName: FunctionName): string => `${SERVICE_NAME}/${functionName}`;

export function createLogger(functionName: string): Logger {
  return new Logger({ serviceName: SERVICE_NAME, persistentKeys: { function: functionName } });
}

/** Metrics in the RtcSegmentTasks namespace, with the function as a dimension (the alarms and the dashboard use both). */
export function createMetrics(functionName: FunctionName): Metrics {
  return new Metrics({ namespace: 'RtcSegmentTasks', serviceName: SERVICE_NAME, defaultDimensions: { function: functionName } });
}
