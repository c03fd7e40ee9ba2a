/**
 * Volcengine callback signature: the values of EventType, EventData, EventTime, EventId, AppId,
 * Version and Nonce plus the callback SecretKey, sorted (byte order), concatenated, SHA-256, hex.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { CallbackEnvelope } from './schemas.ts';

export function callbackSignature(event: Omit<CallbackEnvelope, 'Signature'>, secretKey: string): string {
  const parts = [event.EventType, event.EventData, event.EventTime, event.EventId, event.AppId, event.Version, event.Nonce, secretKey]
    .map((value) => Buffer.from(value, 'utf8'))
    .sort(Buffer.compare);
  return createHash('sha256').update(Buffer.concat(parts)).digest('hex');
}

/** Constant-time, case-insensitive comparison of the received signature with the expected one. */
export function verifyCallbackSignature(event: CallbackEnvelope, secretKey: string): boolean {
  const expected = Buffer.from(callbackSignature(event, secretKey), 'latin1');
  const received = Buffer.from(event.Signature.toLowerCase(), 'latin1');
  return expected.length === received.length && timingSafeEqual(expected, received);
}
