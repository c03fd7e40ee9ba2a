/**
 * Where verified callbacks fan out: the stack's EventBridge bus, one entry per delivery. A delivery
 * is answered 2xx only after the bus accepted its entry, so an entry is published at least once
 * (a redelivery after a lost answer publishes it again): consumers dedupe on the EventId.
 */
import { awsClientConfig } from '../aws-client.ts';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { PublishedEvent } from './schemas.ts';

/** The Source of every entry the callback publishes. */
export const EVENT_SOURCE = 'rtc-segment-tasks.callback';

/** Publishes one verified event; resolves once the bus accepted it, rejects otherwise (its request cut when `signal` aborts). */
export interface EventPublisher {
  publish(event: PublishedEvent, signal?: AbortSignal): Promise<void>;
}

/** The bus refused the entry (FailedEntryCount > 0); its ErrorCode, never the event. */
export class PublishRefusedError extends Error {
  override name = 'PublishRefusedError';
}

export interface EventBridgePublisherOptions {
  busName: string;
  region: string;
  endpoint?: string | undefined;
  maxAttempts?: number;
  requestTimeoutMs?: number;
  userAgent?: string;
}

export class EventBridgePublisher implements EventPublisher {
  readonly #client: EventBridgeClient;
  readonly #busName: string;

  constructor(options: EventBridgePublisherOptions) {
    this.#busName = options.busName;
    this.#client = new EventBridgeClient(awsClientConfig(options));
  }

  async publish(event: PublishedEvent, signal?: AbortSignal): Promise<void> {
    const answer = await this.#client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.#busName,
            Source: EVENT_SOURCE,
            DetailType: event.EventType,
            Detail: JSON.stringify(event),
            Time: new Date(event.ReceivedAt),
          },
        ],
      }),
      { abortSignal: signal },
    );
    if ((answer.FailedEntryCount ?? 0) > 0 || answer.Entries?.[0]?.EventId === undefined) {
      const entry = answer.Entries?.[0];
      throw new PublishRefusedError(`the event bus refused the entry (${entry?.ErrorCode ?? 'no EventId returned'})`);
    }
  }
}
