/**
 * The quota item in memory, with the table's conditional semantics (lib/quota/quota-store.ts's
 * UpdateItem conditions, ADD and SET, ALL_OLD on success and on a failed condition), its numbers
 * as the store writes them (to the µs) and as DynamoDB adds them (decimal: exact, where ms-epoch
 * floats are not; held here as whole µs), and a round trip of the table's latency on the timers: the
 * request takes half of it to arrive, is applied there at once and alone (as DynamoDB applies one
 * write to an item at a time), and the answer takes the other half. With fake timers, limiters on
 * it run on a virtual clock: what they grant does not depend on how fast this machine is.
 * test/lib/quota/memory-quota-store.test.ts holds it to dynalite's answers.
 */
import type { QuotaStore, TakeRequest, TakeResult } from '../../lib/quota/quota-store.ts';
import type { QuotaState } from '../../lib/quota/slots.ts';

/** As the store writes a number: to the µs, held as whole µs (exact below 2^53: until the year 2255 in epoch ms). */
const us = (value: number) => Math.round(value * 1000);
/** The number the store reads back from the item's decimal. */
const ms = (micros: number | undefined) => (micros === undefined ? undefined : micros / 1000);

type Item = Record<keyof QuotaState, number | undefined>;

export class MemoryQuotaStore implements QuotaStore {
  #item: Item | undefined;

  /** `latencyMs`: one call's round trip, drawn per call. */
  constructor(private readonly latencyMs: () => number = () => 0) {}

  get item(): QuotaState | undefined {
    const item = this.#item;
    return item && { lookup: ms(item.lookup), archiver: ms(item.archiver), demand: ms(item.demand), stamp: ms(item.stamp) };
  }

  take(request: TakeRequest, signal: AbortSignal): Promise<TakeResult> {
    return this.#roundTrip(signal, () => this.#take(request));
  }

  join(pushMs: number, stamp: number, toleranceMs: number, signal: AbortSignal): Promise<TakeResult> {
    return this.#roundTrip(signal, () => {
      const [item, before] = [this.#item, this.item];
      if (!stampNotAhead(item, stamp + toleranceMs)) return { taken: false, before };
      const push = us(pushMs);
      this.#item = { demand: item?.demand, lookup: (item?.lookup ?? 0) + push, archiver: (item?.archiver ?? 0) + push, stamp: us(stamp) };
      return { taken: true, before };
    });
  }

  read(signal: AbortSignal): Promise<QuotaState | undefined> {
    return this.#roundTrip(signal, () => this.item);
  }

  #take(request: TakeRequest): TakeResult {
    const [item, before] = [this.#item, this.item];
    const { share, op } = request;
    const [frontier, now] = [item?.[share], us(request.now)];
    const conditions = [
      op === 'advance'
        ? frontier !== undefined && frontier >= now && frontier <= us(request.latest)
        : frontier === undefined || frontier < now,
      stampNotAhead(item, request.now + (request.stampToleranceMs ?? 0)),
      !request.whenNoDemand || item?.demand === undefined || item.demand < now,
    ];
    if (!conditions.every(Boolean)) return { taken: false, before };
    // advance: ADD the span; restart: SET the frontier to at + span (both as the store writes them).
    const next = op === 'advance' ? frontier! + us(request.spanMs) : us(request.at + request.spanMs);
    const demand = request.demandUntil === undefined ? item?.demand : us(request.demandUntil);
    this.#item = { lookup: item?.lookup, archiver: item?.archiver, [share]: next, demand, stamp: now };
    return { taken: true, before };
  }

  /** Half the round trip out, the operation applied, half back; a caller's abort leaves the call (its effect may stand). */
  #roundTrip<T>(signal: AbortSignal, apply: () => T): Promise<T> {
    const latency = this.latencyMs();
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const abort = () => reject(signal.reason);
      signal.addEventListener('abort', abort, { once: true });
      setTimeout(() => {
        const result = apply();
        setTimeout(() => {
          signal.removeEventListener('abort', abort);
          resolve(result);
        }, latency / 2);
      }, latency / 2);
    });
  }
}

function stampNotAhead(item: Item | undefined, limitMs: number): boolean {
  return item?.stamp === undefined || item.stamp <= us(limitMs);
}
