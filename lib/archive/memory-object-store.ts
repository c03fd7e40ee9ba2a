/**
 * In-memory stand-in for ObjectStore, used only by the week-long simulation (bench/archive.ts),
 * where thousands of archiver runs on a virtual clock cannot go through a real S3 server.
 * Same contract: conditional writes, key-ordered pages of at most 1,000 keys.
 */
import { ObjectStore, PreconditionFailed, type ListPage, type PutCondition, type StoredJson } from '../../lib/archive/object-store.ts';

export class MemoryObjectStore extends ObjectStore {
  readonly objects = new Map<string, StoredJson>();
  #sorted: string[] = [];
  #version = 0;
  lists = 0;

  constructor() {
    super({ bucket: 'memory', region: 'us-east-1', forcePathStyle: true });
  }

  override async getJson(key: string): Promise<StoredJson | undefined> {
    const stored = this.objects.get(key);
    return stored && { body: structuredClone(stored.body), etag: stored.etag };
  }

  override async putJson(key: string, value: unknown, condition?: PutCondition): Promise<string> {
    const current = this.objects.get(key);
    if (condition && 'ifNoneMatch' in condition && current) throw new PreconditionFailed(key);
    if (condition && 'ifMatch' in condition && current?.etag !== condition.ifMatch) throw new PreconditionFailed(key);
    const etag = `"${++this.#version}"`;
    if (!current) this.#sorted.splice(this.#insertionPoint(key), 0, key);
    this.objects.set(key, { body: JSON.parse(JSON.stringify(value)), etag });
    return etag;
  }

  override async delete(key: string): Promise<void> {
    if (!this.objects.delete(key)) return;
    const at = this.#insertionPoint(key);
    if (this.#sorted[at] === key) this.#sorted.splice(at, 1);
  }

  override async listPage(prefix: string, options: { token?: string | undefined; maxKeys?: number } = {}): Promise<ListPage> {
    this.lists++;
    const max = options.maxKeys ?? 1000;
    let at = this.#insertionPoint(options.token ? `${options.token}\u0000` : prefix);
    const keys: string[] = [];
    while (at < this.#sorted.length && keys.length < max && this.#sorted[at]!.startsWith(prefix)) keys.push(this.#sorted[at++]!);
    const more = at < this.#sorted.length && this.#sorted[at]!.startsWith(prefix);
    return { keys, prefixes: [], nextToken: more ? keys.at(-1) : undefined };
  }

  /** How many keys start with `prefix` (for the simulation's own bookkeeping). */
  countPrefix(prefix: string): number {
    return this.#insertionPoint(`${prefix}\uffff`) - this.#insertionPoint(prefix);
  }

  #insertionPoint(key: string): number {
    let low = 0;
    let high = this.#sorted.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.#sorted[mid]! < key) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
