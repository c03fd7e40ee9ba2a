/**
 * What this instance registered lately: a bounded memo (least recently registered dropped first)
 * of task addresses and when their registration was written. A delivery whose address this
 * instance registered less than `freshMs` ago skips the write, so a task costs at most one small
 * DynamoDB write per minute per instance however often Volcengine calls. Instance-local and
 * lost on a cold start: the first delivery an instance sees for an address always writes, so a
 * registration is never lost, and each write also refreshes the entry's last-seen time. Deliveries
 * for an address whose write is in flight wait for that write instead of writing again (and fail
 * with it: answered 5xx, they are delivered again).
 */
import type { TaskAddress } from '../volc/schemas.ts';

export class RecentRegistrations {
  readonly #writtenAt = new Map<string, number>();
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(
    readonly maxEntries = 4_096,
    readonly freshMs = 60_000,
  ) {}

  get size(): number {
    return this.#writtenAt.size;
  }

  /**
   * Runs `write` (the address's registration at `now`) unless this instance wrote it less than
   * `freshMs` ago or is writing it now; answers whether this call wrote.
   */
  async registerOnce(address: TaskAddress, now: number, write: () => Promise<unknown>): Promise<boolean> {
    const key = keyOf(address);
    const pending = this.#inFlight.get(key);
    if (pending) {
      await pending;
      return false;
    }
    if (this.isFresh(address, now)) return false;
    const writing = write().then(() => this.remember(address, now));
    this.#inFlight.set(key, writing);
    try {
      await writing;
      return true;
    } finally {
      this.#inFlight.delete(key);
    }
  }

  /** Whether this instance wrote the address's registration less than `freshMs` before `now`. */
  isFresh(address: TaskAddress, now: number): boolean {
    const at = this.#writtenAt.get(keyOf(address));
    return at !== undefined && now - at >= 0 && now - at < this.freshMs;
  }

  /** Records a registration written at `now`; past `maxEntries` the oldest write is forgotten. */
  remember(address: TaskAddress, now: number): void {
    const key = keyOf(address);
    this.#writtenAt.delete(key);
    this.#writtenAt.set(key, now);
    if (this.#writtenAt.size > this.maxEntries) this.#writtenAt.delete(this.#writtenAt.keys().next().value!);
  }
}

const keyOf = (address: TaskAddress) => JSON.stringify([address.appId, address.roomId, address.taskId]);
