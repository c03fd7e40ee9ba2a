/**
 * What a verified callback does: every verified event is published to the stack's event bus, and a
 * SegmentRealTimeData event also registers its task for watching (a pending registration, which
 * records when the task was last seen, and when its current burst of callbacks began). The
 * registration is written at most once a minute per address by an instance (RecentRegistrations);
 * the first delivery an instance sees for an address always writes: while the address's callbacks
 * go on, one conditional write of its last-seen time; after a silence longer than the burst gap (or
 * for a new address), a second write registers it and starts a new burst. The delivery is answered
 * only after the bus accepted the entry: a redelivery publishes it again (at least once; consumers
 * dedupe on EventId) and its registration is an idempotent upsert. Nothing is written to S3.
 */
import type { Registrations } from '../archive/registry.ts';
import { EventBusUnavailableError } from '../errors.ts';
import { VOLC_ID_PATTERN } from '../volc/schemas.ts';
import { taskOfEventData } from './event-data.ts';
import type { EventPublisher } from './publisher.ts';
import type { RecentRegistrations } from './recent-registrations.ts';
import { EVENT_FORMAT_VERSION, SEGMENT_EVENT, type CallbackEnvelope, type PublishedEvent } from './schemas.ts';

/**
 * registered: the task's registration was written; recent: this instance wrote it less than a
 * minute ago (or was writing it), nothing was written; unmatched: a segment event that names no task; ignored: another
 * event type (published, not registered).
 */
export type ReceiveOutcome = 'registered' | 'recent' | 'unmatched' | 'ignored';

/**
 * Callbacks for an address go on while its last-seen time is at most this old: an instance writes
 * it at most once per memo period (a minute) and a segment's callback comes every 20 s, so a
 * stream that goes on moves it at least every 80 s or so; two periods and half a minute leave room
 * for a delivery that failed and for clocks. A longer silence starts a new burst: Volcengine's
 * default MaxIdleTime (180 s) passes between the last segment of a run that idled out and the
 * first of the next run of its TaskId.
 */
export const burstGapMs = (recent: Pick<RecentRegistrations, 'freshMs'>): number => 2 * recent.freshMs + 30_000;

export interface Receiver {
  /** The registry, its requests cut at the invocation's deadline where it takes a signal (the handler's view of it). */
  registry: Pick<Registrations, 'registerPending' | 'continueSighting'>;
  publisher: EventPublisher;
  recent: RecentRegistrations;
}

/** `signal`: the invocation's deadline, which cuts the bus's request (and the registry's, through the receiver's view of it). */
export async function receiveEvent(
  receiver: Receiver,
  event: CallbackEnvelope,
  now: number,
  signal?: AbortSignal,
): Promise<ReceiveOutcome> {
  const segment = event.EventType === SEGMENT_EVENT;
  const task = segment ? taskOfEventData(event.EventData) : undefined;
  const address = task && VOLC_ID_PATTERN.test(event.AppId) ? { appId: event.AppId, ...task } : undefined;
  let outcome: ReceiveOutcome = segment ? 'unmatched' : 'ignored';
  if (address) {
    const { registry, recent } = receiver;
    const wrote = await recent.registerOnce(
      address,
      now,
      async () => (await registry.continueSighting(address, now, burstGapMs(recent))) || registry.registerPending(address, 'callback', now),
    );
    outcome = wrote ? 'registered' : 'recent';
  }
  const published: PublishedEvent = {
    FormatVersion: EVENT_FORMAT_VERSION,
    ReceivedAt: new Date(now).toISOString(),
    EventId: event.EventId,
    EventType: event.EventType,
    EventTime: event.EventTime,
    AppId: event.AppId,
    Version: event.Version,
    Nonce: event.Nonce,
    EventData: event.EventData,
    Matched: address !== undefined,
  };
  try {
    await receiver.publisher.publish(published, signal);
  } catch (error) {
    throw new EventBusUnavailableError(error);
  }
  return outcome;
}
