/**
 * The simulation's virtual time and its interleavings: a deterministic discrete-event scheduler.
 * Invocations (an archiver run, a callback delivery, a lookup) start at their virtual time and run
 * concurrently; each store call is an interleaving point where the scheduler, with the scenario's
 * seeded randomness, picks which waiting invocation goes on. Virtual time advances only when
 * nothing is runnable: to the next timed wake-up (an invocation's start, an archiver's paced call).
 * With the same seed and scenario, every run interleaves the same way.
 *
 * An invocation can die (a crash injected at a store call): its waiting continuations are then
 * never resumed, as a killed Lambda's are not.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface Invocation {
  kind: 'archiver' | 'callback' | 'lookup' | 'observer';
  dead: boolean;
  /** Called once if the invocation dies. */
  onDeath?: (() => void) | undefined;
}

interface Timed {
  at: number;
  seq: number;
  invocation: Invocation | undefined;
  run: () => void;
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const NEVER = new Promise<never>(() => undefined);

export class Scheduler {
  now: number;
  readonly random: () => number;
  readonly #invocations = new AsyncLocalStorage<Invocation>();
  readonly #ready: Array<{ invocation: Invocation | undefined; resume: () => void }> = [];
  readonly #timed: Timed[] = [];
  #seq = 0;

  constructor(start: number, seed: number) {
    this.now = start;
    this.random = seeded(seed);
  }

  /** The invocation the caller runs in, if any. */
  get current(): Invocation | undefined {
    return this.#invocations.getStore();
  }

  /**
   * Starts `work` as an invocation at virtual time `at`; `done` is told its result (undefined when
   * it threw), `died` that it was killed.
   */
  start<T>(
    at: number,
    kind: Invocation['kind'],
    work: (invocation: Invocation) => Promise<T>,
    hooks: { done?: (result: T | undefined) => void; died?: () => void } = {},
  ): void {
    const done = hooks.done;
    this.#push({
      at,
      seq: this.#seq++,
      invocation: undefined,
      run: () => {
        const invocation: Invocation = { kind, dead: false, onDeath: hooks.died };
        void this.#invocations.run(invocation, async () => {
          let result: T | undefined;
          try {
            result = await work(invocation);
          } catch {
            result = undefined;
          }
          if (!invocation.dead) done?.(result);
        });
      },
    });
  }

  /** An interleaving point: the caller waits until the scheduler picks it among everything runnable now. */
  point(): Promise<void> {
    const invocation = this.current;
    if (invocation?.dead) return NEVER;
    return new Promise((resume) => this.#ready.push({ invocation, resume }));
  }

  /** Waits until virtual time `at` (never for a dead invocation). */
  until(at: number): Promise<void> {
    const invocation = this.current;
    if (invocation?.dead) return NEVER;
    if (at <= this.now) return this.point();
    return new Promise((run) => this.#push({ at, seq: this.#seq++, invocation, run }));
  }

  /** Kills the caller's invocation: it never goes on from here. */
  die(): Promise<never> {
    const invocation = this.current;
    if (invocation && !invocation.dead) {
      invocation.dead = true;
      invocation.onDeath?.();
    }
    return NEVER;
  }

  /** Runs everything until nothing is runnable or timed at or before `until`. */
  async run(until = Number.POSITIVE_INFINITY): Promise<void> {
    await flush();
    for (;;) {
      if (this.#ready.length > 0) {
        const at = Math.floor(this.random() * this.#ready.length);
        const next = this.#ready[at]!;
        this.#ready[at] = this.#ready[this.#ready.length - 1]!;
        this.#ready.pop();
        if (!next.invocation?.dead) next.resume();
      } else if (this.#timed.length > 0 && this.#timed[0]!.at <= until) {
        const next = this.#pop();
        this.now = Math.max(this.now, next.at);
        if (!next.invocation?.dead) next.run();
      } else {
        return;
      }
      await flush();
    }
  }

  #push(item: Timed): void {
    const heap = this.#timed;
    heap.push(item);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): Timed {
    const heap = this.#timed;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const [left, right] = [2 * i + 1, 2 * i + 2];
        let smallest = i;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

const before = (a: Timed, b: Timed) => a.at < b.at || (a.at === b.at && a.seq < b.seq);
