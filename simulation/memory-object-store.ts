/**
 * The object-store port in memory: the one stand-in of the capacity simulation (npm run
 * simulate), where thousands of archiver runs on a virtual clock cannot go through a real S3
 * server. Same contract as S3ObjectStore: conditional writes, key-ordered pages of at most
 * 1,000 keys, continuation after the last key returned.
 */
import {
  keysOf,
  PreconditionFailed,
  type ListOptions,
  type ListPage,
  type ObjectStore,
  type PutCondition,
  type StoredJson,
} from '../lib/archive/object-store.ts';

export class MemoryObjectStore implements ObjectStore {
  readonly #objects = new Map<string, { text: string; etag: string }>();
  #sorted: string[] = [];
  #version = 0;
  /** LIST calls served, for the simulation's figures. */
  lists = 0;

  async getJson(key: string): Promise<StoredJson | undefined> {
    const stored = this.#objects.get(key);
    return stored && { body: JSON.parse(stored.text), etag: stored.etag };
  }

  async putJson(key: string, value: unknown, condition?: PutCondition): Promise<string> {
    const current = this.#objects.get(key);
    if (condition && 'ifNoneMatch' in condition && current) throw new PreconditionFailed(`conditional write to ${key} lost`);
    if (condition && 'ifMatch' in condition && current?.etag !== condition.ifMatch)
      throw new PreconditionFailed(`conditional write to ${key} lost`);
    const etag = `"${++this.#version}"`;
    if (!current) this.#sorted.splice(this.#insertionPoint(key), 0, key);
    this.#objects.set(key, { text: JSON.stringify(value), etag });
    return etag;
  }

  async delete(key: string): Promise<void> {
    if (!this.#objects.delete(key)) return;
    const at = this.#insertionPoint(key);
    if (this.#sorted[at] === key) this.#sorted.splice(at, 1);
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    this.lists++;
    const max = options.maxKeys ?? 1000;
    const after = [options.token, options.startAfter]
      .filter((key): key is string => key !== undefined)
      .sort()
      .at(-1);
    let at = this.#insertionPoint(after === undefined || after < prefix ? prefix : `${after}\u0000`);
    const keys: string[] = [];
    while (at < this.#sorted.length && keys.length < max && this.#sorted[at]!.startsWith(prefix)) keys.push(this.#sorted[at++]!);
    const more = at < this.#sorted.length && this.#sorted[at]!.startsWith(prefix);
    return { keys, nextToken: more ? keys.at(-1) : undefined };
  }

  keys(prefix: string): AsyncGenerator<string> {
    return keysOf(this, prefix);
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
