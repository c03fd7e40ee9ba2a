/** The callback function: verification, then receiveEvent (registration and publication), in the HTTP pipeline every function shares. */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { invocationDeadline, untilAborted } from '../deadline.ts';
import {
  BodyTooLargeError,
  CallbackBudgetExceededError,
  InvalidParameterError,
  InvalidTimestampError,
  MethodNotAllowedError,
  SignatureMismatchError,
  UnsupportedMediaTypeError,
} from '../errors.ts';
import { httpFunction, printable, type HttpApiEvent } from '../http/http-function.ts';
import { CALLBACK_METRICS, publishMetric } from '../metrics.ts';
import type { Registrations } from '../archive/registry.ts';
import { verifyCallbackSignature } from './signature.ts';
import type { EventPublisher } from './publisher.ts';
import { RecentRegistrations } from './recent-registrations.ts';
import { receiveEvent } from './receiver.ts';
import { CallbackEnvelopeSchema } from './schemas.ts';

export interface CallbackSettings {
  /** The callback SecretKey of an AppId, undefined when none is configured. */
  secretFor: (appId: string) => Promise<string | undefined>;
  maxSkewMs: number;
  maxBodyBytes: number;
  budgetMs: number;
}

type CallbackRegistry = Pick<Registrations, 'registerPending' | 'continueSighting'>;

export interface CallbackHandlerDeps {
  /** Where a segment event's task is registered (a pending registration). */
  registry: CallbackRegistry;
  /**
   * The same registry, its requests cut when `signal` (an invocation's deadline) aborts. Absent on one
   * that takes no signal (the simulation's, in memory): only waited for until the deadline.
   */
  registryWithin?: ((signal: AbortSignal) => CallbackRegistry) | undefined;
  /** The stack's event bus: every verified event is published there before the 2xx. */
  publisher: EventPublisher;
  /** What this instance registered lately (a fresh memo when absent). */
  recent?: RecentRegistrations;
  settings: CallbackSettings;
  logger: Logger;
  metrics: Metrics;
  region: string;
  now?: () => number;
}

/** Kept of the Lambda's time for the answer, its logs and metrics, when less than the budget is left. */
const ANSWER_MARGIN_MS = 1_000;

// Not @middy/http-json-body-parser: it would need the 405 and 413 checks moved into middlewares ahead
// of it and its 415/422 errors translated into our envelope's 415/400, to replace one JSON.parse.
function readBody(event: { body?: string | null | undefined; isBase64Encoded?: boolean | undefined }, maxBytes: number): string {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > maxBytes) throw new BodyTooLargeError(maxBytes);
  if (bytes.length === 0) throw new InvalidParameterError('body', 'it is empty');
  return bytes.toString('utf8');
}

export function createCallbackHandler(deps: CallbackHandlerDeps) {
  const { settings, logger, metrics, region } = deps;
  const receiver = { registry: deps.registry, publisher: deps.publisher, recent: deps.recent ?? new RecentRegistrations() };
  const now = deps.now ?? Date.now;

  const answer = async (http: HttpApiEvent, context: Context, cancelled: AbortSignal) => {
    const { signal } = invocationDeadline(settings.budgetMs, ANSWER_MARGIN_MS, context, cancelled);
    if (http.requestContext.http.method.toUpperCase() !== 'POST') {
      throw new MethodNotAllowedError(printable(http.requestContext.http.method), 'POST');
    }
    const contentType = http.headers?.['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(contentType)) {
      throw new UnsupportedMediaTypeError();
    }
    const text = readBody(http, settings.maxBodyBytes);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new InvalidParameterError('body', 'it is not valid JSON');
    }
    const parsed = CallbackEnvelopeSchema.safeParse(json);
    if (!parsed.success) {
      const fields = [...new Set(parsed.error.issues.map((issue) => String(issue.path[0] ?? 'body')))].join(', ');
      throw new InvalidParameterError(
        fields,
        'the callback envelope needs EventType, EventData, EventTime, EventId, AppId, Version, Nonce and Signature as strings',
      );
    }
    const event = parsed.data;
    // The SecretKeys' read is shared by the instance's deliveries (one SSM fetch for all): left at the deadline, not cut.
    const secret = await untilAborted(settings.secretFor(event.AppId), signal, () => new CallbackBudgetExceededError());
    if (!secret || !verifyCallbackSignature(event, secret)) {
      logger.warn('callback refused: bad signature', { eventId: event.EventId });
      publishMetric(metrics, CALLBACK_METRICS, 'CallbacksRefused', 1);
      throw new SignatureMismatchError();
    }
    const eventTime = Date.parse(event.EventTime);
    if (!Number.isFinite(eventTime) || Math.abs(now() - eventTime) > settings.maxSkewMs) {
      logger.warn('callback refused: EventTime outside the window', { eventId: event.EventId });
      publishMetric(metrics, CALLBACK_METRICS, 'CallbacksRefused', 1);
      throw new InvalidTimestampError(settings.maxSkewMs);
    }

    // Every request is cut at the deadline, its writes too: the 503 has Volcengine deliver the event again, and each
    // step is an idempotent upsert (a sighting, a registration, a publication consumers dedupe), so what a cut leaves
    // is what a delivery that died there leaves, and the redelivery does it over. What takes no signal is left to
    // finish unawaited.
    const within = { ...receiver, registry: deps.registryWithin?.(signal) ?? receiver.registry };
    const outcome = await untilAborted(receiveEvent(within, event, now(), signal), signal, () => new CallbackBudgetExceededError());

    publishMetric(metrics, CALLBACK_METRICS, 'CallbacksReceived', 1);
    publishMetric(metrics, CALLBACK_METRICS, 'EventsPublished', 1);
    if (outcome === 'recent') publishMetric(metrics, CALLBACK_METRICS, 'RegistrationsSkipped', 1);
    if (outcome === 'ignored') logger.info('callback ignored: not a segment event', { eventId: event.EventId, eventType: event.EventType });
    if (outcome === 'unmatched') publishMetric(metrics, CALLBACK_METRICS, 'UnmatchedEvents', 1);
    logger.info('callback handled', { eventId: event.EventId, outcome });
    return { result: { EventId: event.EventId, Outcome: outcome } };
  };
  return httpFunction(
    { read: (http) => ({ action: 'Callback', http }), answer: ({ http }, context, signal) => answer(http, context, signal) },
    { region, logger, metrics, beforeRead: [httpHeaderNormalizer()] },
  );
}
