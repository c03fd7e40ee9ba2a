/** The callback function's composition root: its parts, from its settings, with what a test or the simulation puts in their place. */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { cutBy, registryOptions } from '../archive/access.ts';
import { DynamoDbRegistrations } from '../archive/dynamodb-registrations.ts';
import type { CallbackSettings } from '../config.ts';
import { createLogger, createMetrics, userAgentOf } from '../log.ts';
import { createCallbackHandler, type CallbackHandlerDeps } from './handler.ts';
import { EventBridgePublisher } from './publisher.ts';
import { callbackSecrets } from './secrets.ts';

export interface CallbackOverrides extends Partial<Pick<CallbackHandlerDeps, 'registry' | 'publisher' | 'recent' | 'now'>> {
  /** The SecretKey of an AppId, instead of the settings' (the simulation and the tests sign with one of their own). */
  secretFor?: (appId: string) => Promise<string | undefined>;
  logger?: Logger;
  metrics?: Metrics;
}

export function buildCallback(settings: CallbackSettings, overrides: CallbackOverrides = {}) {
  const userAgent = userAgentOf('callback');
  // Each call is bounded so a slow store or bus cannot hold up the answer past Volcengine's 5 s.
  const bounds = { maxAttempts: 2, requestTimeoutMs: settings.storageCallMs, userAgent };
  const own = overrides.registry ? undefined : new DynamoDbRegistrations(registryOptions(settings.storage, bounds));
  return createCallbackHandler({
    registry: overrides.registry ?? own!,
    // Each invocation's view of the table, its requests cut at the invocation's deadline.
    registryWithin: own && ((signal) => cutBy(own, signal)),
    publisher: overrides.publisher ?? new EventBridgePublisher({ ...settings.events, ...bounds }),
    ...(overrides.recent ? { recent: overrides.recent } : {}),
    settings: {
      secretFor: overrides.secretFor ?? callbackSecrets(settings, userAgent),
      maxSkewMs: settings.maxSkewMs,
      maxBodyBytes: settings.maxBodyBytes,
      budgetMs: settings.budgetMs,
    },
    logger: overrides.logger ?? createLogger('callback'),
    metrics: overrides.metrics ?? createMetrics('callback'),
    region: settings.volcRegion,
    ...(overrides.now ? { now: overrides.now } : {}),
  });
}
