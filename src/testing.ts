/**
 * Test helpers for users and for our own suite: a fake clock that drives the coordinator, the
 * memory store and every timer they arm, so rate-limited code is tested in virtual time,
 * deterministically and instantly.
 *
 *   const clock = new FakeClock();
 *   const rs = new RateSync({ clock, configFile: false });
 *   ...
 *   await clock.advance(1000); // fires every timer due in the next second, in order
 */
import type { Clock, TimerHandle, TimerOptions } from './clock.js';

interface FakeTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  readonly weak: boolean;
  cancelled: boolean;
}

/** Lets every pending promise callback run (they may arm new timers). */
export function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  /** Sorted by (at, seq): timers due at the same instant fire in the order they were set. */
  #timers: FakeTimer[] = [];

  readonly epochOffsetMs: number;

  /** Starts at `startMs`; epoch times (grantedAt, resetAt) are `epochOffsetMs` + clock time. */
  constructor(startMs = 0, epochOffsetMs = 0) {
    this.#now = startMs;
    this.epochOffsetMs = epochOffsetMs;
  }

  now(): number {
    return this.#now;
  }

  /** Fake time is exact, so `precise` changes nothing here. */
  setTimeout(fn: () => void, ms: number, options: TimerOptions = {}): TimerHandle {
    const weak = options.weak === true;
    const timer: FakeTimer = { at: this.#now + Math.max(0, ms), seq: ++this.#seq, fn, weak, cancelled: false };
    let lo = 0;
    let hi = this.#timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const t = this.#timers[mid] as FakeTimer;
      if (t.at < timer.at || (t.at === timer.at && t.seq < timer.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.#timers.splice(lo, 0, timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = handle as FakeTimer;
    if (timer.cancelled) return;
    timer.cancelled = true;
    this.#timers.splice(this.#timers.indexOf(timer), 1);
  }

  /** Timers armed and not yet fired; `weak` housekeeping timers are left out unless asked. */
  pendingTimers(includeWeak = false): number {
    return this.#timers.filter((t) => includeWeak || !t.weak).length;
  }

  /** When the next timer is due (undefined when none is armed). */
  nextTimerAt(): number | undefined {
    return this.#timers[0]?.at;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order at their own instants, and lets
   * promise callbacks run after each one.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await flushPromises();
      const next = this.#timers[0];
      if (next === undefined || next.at > target) break;
      this.#timers.shift();
      next.cancelled = true;
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = target;
    await flushPromises();
  }

  /** Moves time to an absolute instant (see advance). */
  advanceTo(atMs: number): Promise<void> {
    return this.advance(Math.max(0, atMs - this.#now));
  }
}
