/**
 * What a verified callback does: a SegmentRealTimeData event registers its task for watching and
 * is stored raw under the task's history (or under callbacks/unmatched when its task cannot be
 * found). Each EventId is handled once: the event is stored create-only after the registration
 * (itself idempotent), so a redelivery changes nothing and a crash in between is repaired by it.
 */
import type { ArchiveAccess } from '../archive/access.ts';
import { VOLC_ID_PATTERN } from '../volc/schemas.ts';
import { taskOfEventData } from './event-data.ts';
import { EVENT_FORMAT_VERSION, SEGMENT_EVENT, type CallbackEnvelope, type StoredEvent } from './schemas.ts';

export type ReceiveOutcome = 'stored' | 'unmatched' | 'duplicate' | 'ignored';

export async function receiveEvent(access: ArchiveAccess, event: CallbackEnvelope, now: number): Promise<ReceiveOutcome> {
  if (event.EventType !== SEGMENT_EVENT) return 'ignored';
  const task = taskOfEventData(event.EventData);
  const address = task && VOLC_ID_PATTERN.test(event.AppId) ? { appId: event.AppId, ...task } : undefined;
  if (address) await access.registry.registerPending(address, 'callback', now);
  const stored: StoredEvent = {
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
  const outcome = await access.archive.storeEvent(address, event.AppId, event.EventId, stored);
  if (outcome === 'duplicate') return 'duplicate';
  return address ? 'stored' : 'unmatched';
}
