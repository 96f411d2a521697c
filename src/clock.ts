/**
 * Time and timers, injected everywhere time matters so that the coordinator and the memory
 * store run deterministically under a fake clock in tests (see `rate-sync/testing`).
 */

export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Clock {
  /**
   * Milliseconds from an arbitrary origin, sub-millisecond resolution, monotonic. Small numbers
   * on purpose: at the epoch's scale (1.7e12) a double resolves only ~0.25 µs, and the limits'
   * arithmetic should not round.
   */
  now(): number;
  /** Add to `now()` to get epoch milliseconds (for the times shown to users). */
  readonly epochOffsetMs: number;
  /**
   * Calls `fn` once, `ms` from now. A `weak` timer does not keep the process alive
   * (housekeeping such as sweeps and lease renewal).
   */
  setTimeout(fn: () => void, ms: number, weak?: boolean): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Node turns longer delays into 1 ms (TimeoutOverflowWarning), so long waits are chained. */
const MAX_DELAY_MS = 2 ** 31 - 1;

interface SystemTimer {
  timeout: NodeJS.Timeout;
}

function arm(timer: SystemTimer, fn: () => void, ms: number, weak: boolean): void {
  const step = Math.min(ms, MAX_DELAY_MS);
  timer.timeout = setTimeout(step === ms ? fn : () => arm(timer, fn, ms - step, weak), step);
  if (weak) timer.timeout.unref();
}

export const systemClock: Clock = {
  now: () => performance.now(),
  epochOffsetMs: performance.timeOrigin,
  setTimeout(fn, ms, weak = false) {
    const timer = {} as SystemTimer;
    arm(timer, fn, Math.max(0, ms), weak);
    return timer;
  },
  clearTimeout: (handle) => clearTimeout((handle as SystemTimer).timeout),
};
