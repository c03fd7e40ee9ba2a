/** Volcengine's event callback, as delivered to our endpoint. */
import { z } from 'zod';

/**
 * The callback envelope. EventData is JSON encoded as a string and kept exactly as received.
 * @example { "EventType": "SegmentRealTimeData", "EventData": "{\"RoomId\":\"room1\",\"TaskId\":\"task1\"}",
 *   "EventTime": "2026-11-25T08:00:00.123Z", "EventId": "b1f3c0de", "AppId": "661e3b4c9a5f7d0012a543cf",
 *   "Version": "2020-12-01", "Nonce": "a1b2", "Signature": "9f86d081…" }
 */
export const CallbackEnvelopeSchema = z.object({
  EventType: z.string().max(128),
  EventData: z.string(),
  EventTime: z.string().max(64),
  EventId: z.string().min(1).max(256),
  AppId: z.string().max(128),
  Version: z.string().max(32),
  Nonce: z.string().max(64),
  Signature: z.string().max(128),
});
export type CallbackEnvelope = z.infer<typeof CallbackEnvelopeSchema>;

export const SEGMENT_EVENT = 'SegmentRealTimeData';
export const EVENT_FORMAT_VERSION = 1;

/**
 * A verified event as published to the stack's event bus (the entry's Detail; its DetailType is
 * the EventType): the envelope without its Signature, EventData the exact string received, and
 * whether the event named a task (Matched).
 * @example { "FormatVersion": 1, "ReceivedAt": "2026-11-25T08:00:00.500Z", "EventId": "b1f3c0de",
 *   "EventType": "SegmentRealTimeData", "EventTime": "2026-11-25T08:00:00.123Z", "AppId": "661e…",
 *   "Version": "2020-12-01", "Nonce": "a1b2", "EventData": "{\"RoomId\":\"room1\"}", "Matched": true }
 */
export const PublishedEventSchema = z.object({
  FormatVersion: z.literal(EVENT_FORMAT_VERSION),
  ReceivedAt: z.iso.datetime(),
  EventId: z.string(),
  EventType: z.string(),
  EventTime: z.string(),
  AppId: z.string(),
  Version: z.string(),
  Nonce: z.string(),
  EventData: z.string(),
  Matched: z.boolean(),
});
export type PublishedEvent = z.infer<typeof PublishedEventSchema>;
