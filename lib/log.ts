/** Structured JSON logs (Powertools). Credentials are never passed to the logger. */
import { Logger } from '@aws-lambda-powertools/logger';

export const SERVICE_NAME = 'rtc-segment-tasks';

export function createLogger(functionName: string): Logger {
  return new Logger({ serviceName: SERVICE_NAME, persistentKeys: { function: functionName } });
}
