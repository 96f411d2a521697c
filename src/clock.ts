/**
 * Time and timers, injected everywhere time matters so that the coordinator and the memory
 * store run deterministically under a fake clock in tests (see `rate-sync/testing`).
 */

export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface TimerOptions {
  /** The timer does not keep the process alive (housekeeping such as sweeps and lease renewal). */
  weak?: boolean;
  /**
   * Fire as close after the instant as the event loop allows, not up to a millisecond early or
   * late as Node's timers do. Holds the event loop in short sleeps during the last millisecond:
   * only for waits whose lateness would be lost for good (see `preciseWake` in the coordinator).
   */
  precise?: boolean;
}

export interface Clock {
  /**
   * Milliseconds from an arbitrary origin, sub-millisecond resolution, monotonic. Small numbers
   * on purpose: at the epoch's scale (1.7e12) a double resolves only ~0.25 µs, and the limits'
   * arithmetic should not round.
   */
  now(): number;
  /** Add to `now()` to get epoch milliseconds (for the times shown to users). */
  readonly epochOffsetMs: number;
  /** Calls `fn` once, `ms` from now, never synchronously. */
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Node turns longer delays into 1 ms (TimeoutOverflowWarning), so long waits are chained. */
const MAX_DELAY_MS = 2 ** 31 - 1;

interface SystemTimer {
  timeout?: NodeJS.Timeout;
  immediate?: NodeJS.Immediate;
}

function arm(timer: SystemTimer, fn: () => void, ms: number, weak: boolean): void {
  const step = Math.min(ms, MAX_DELAY_MS);
  timer.timeout = setTimeout(step === ms ? fn : () => arm(timer, fn, ms - step, weak), step);
  if (weak) timer.timeout.unref();
}

/** Atomics.wait sleeps ~70–120 µs past its timeout here; the rest is spun out. */
const OVERSLEEP_MS = 0.1;
/** The longest the event loop is held at once; between slices it serves I/O. */
const SLICE_MS = 0.2;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Node runs a timer when its whole-millisecond loop clock says so, up to ~1 ms before or after
 * the instant asked for. The last millisecond is therefore slept in short slices between
 * event-loop turns. Sleeping, not spinning on `performance.now()`: a spin allocates a number per
 * reading, and that churn leads V8 to pretenure the coordinator's short-lived objects, which
 * slows every other limiter of the process for good.
 */
function armPrecise(timer: SystemTimer, fn: () => void, dueAt: number): void {
  const slice = (): void => {
    const left = dueAt - performance.now();
    if (left > SLICE_MS + OVERSLEEP_MS) {
      Atomics.wait(sleeper, 0, 0, SLICE_MS);
      timer.immediate = setImmediate(slice);
      return;
    }
    if (left > OVERSLEEP_MS) Atomics.wait(sleeper, 0, 0, left - OVERSLEEP_MS);
    while (performance.now() < dueAt);
    fn();
  };
  const left = dueAt - performance.now();
  if (left > 1) arm(timer, () => armPrecise(timer, fn, dueAt), Math.floor(left), false);
  else timer.immediate = setImmediate(slice);
}

export const systemClock: Clock = {
  now: () => performance.now(),
  epochOffsetMs: performance.timeOrigin,
  setTimeout(fn, ms, options) {
    const timer: SystemTimer = {};
    if (options?.precise === true) armPrecise(timer, fn, performance.now() + ms);
    else arm(timer, fn, Math.max(0, ms), options?.weak === true);
    return timer;
  },
  clearTimeout(handle) {
    const timer = handle as SystemTimer;
    clearTimeout(timer.timeout);
    clearImmediate(timer.immediate);
  },
};
