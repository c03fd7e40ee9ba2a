/** A wall clock tests can move: starts at a fixed instant, advances only when told. */
export class ManualClock {
  #now: number;
  constructor(start: number | string = '2026-11-20T08:00:00Z') {
    this.#now = typeof start === 'number' ? start : Date.parse(start);
  }
  now = (): number => this.#now;
  advance(ms: number): void {
    this.#now += ms;
  }
  set(ms: number): void {
    this.#now = ms;
  }
}

export const HOUR = 3_600_000;
