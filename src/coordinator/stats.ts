/**
 * Counters of one configured limiter, host-wide: every key of the limiter (its
 * `getOrCloneLimiter` clones included) and every client of the coordinator add to them.
 *
 * A grant costs a few additions here and nothing else: Prometheus metrics and the status page
 * read these counters when they are asked (coordinator.snapshot()), never per grant.
 */

/**
 * Upper bounds (ms, inclusive) of the wait-time histogram's buckets (0: granted without waiting);
 * one more bucket counts the waits above the last bound. Fixed, so that a grant only increments one slot.
 */
export const WAIT_BUCKETS_MS: readonly number[] = Object.freeze([
  0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000,
]);

export interface LimiterMetrics {
  /** Permits granted. */
  acquisitions: number;
  /** Requests that got no permit within their timeout (the timeout 0 `refusals` included). */
  timeouts: number;
  /** Of `timeouts`: one-try requests (timeout 0) refused at once. */
  refusals: number;
  /** Requests withdrawn by their caller (AbortSignal, client gone). */
  cancellations: number;
  /** Sum and maximum of the time granted requests waited, in ms. */
  totalWaitMs: number;
  maxWaitMs: number;
  /** totalWaitMs / acquisitions (0 before the first grant). */
  avgWaitMs: number;
  /** Lease units held now (limiters with max_concurrent). */
  inFlight: number;
  /** Requests waiting now. */
  waiting: number;
  /** Permits granted from the local fallback share while the store was unreachable. */
  fallbackAcquisitions: number;
  /** Store calls that failed (the callers got StoreUnavailableError, or a release was lost). */
  storeErrors: number;
}

export class LimiterStats {
  acquisitions = 0;
  timeouts = 0;
  refusals = 0;
  cancellations = 0;
  totalWaitMs = 0;
  maxWaitMs = 0;
  inFlight = 0;
  waiting = 0;
  fallbackAcquisitions = 0;
  storeErrors = 0;
  /** Grants that did not wait (the first bucket), kept apart: the common case is one increment. */
  #immediate = 0;
  /** Grants that waited, per bucket (index 0, waits ≤ 0 ms, stays empty). */
  readonly #waited: number[] = new Array<number>(WAIT_BUCKETS_MS.length + 1).fill(0);

  granted(waitMs: number): void {
    this.acquisitions++;
    if (waitMs === 0) {
      this.#immediate++;
      return;
    }
    this.totalWaitMs += waitMs;
    if (waitMs > this.maxWaitMs) this.maxWaitMs = waitMs;
    // The first bucket whose bound is ≥ waitMs (binary search), else the last one.
    let lo = 0;
    let hi = WAIT_BUCKETS_MS.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (waitMs > (WAIT_BUCKETS_MS[mid] as number)) lo = mid + 1;
      else hi = mid;
    }
    this.#waited[lo]!++;
  }

  /** Grants per wait bucket: [i] counts the waits ≤ WAIT_BUCKETS_MS[i] and above the bound before; the last, above every bound. */
  get waitCounts(): number[] {
    const counts = [...this.#waited];
    counts[0] = (counts[0] as number) + this.#immediate;
    return counts;
  }

  /** A one-try request found no permit. */
  refused(): void {
    this.timeouts++;
    this.refusals++;
  }

  snapshot(): LimiterMetrics {
    return {
      acquisitions: this.acquisitions,
      timeouts: this.timeouts,
      refusals: this.refusals,
      cancellations: this.cancellations,
      totalWaitMs: this.totalWaitMs,
      maxWaitMs: this.maxWaitMs,
      avgWaitMs: this.acquisitions === 0 ? 0 : this.totalWaitMs / this.acquisitions,
      inFlight: this.inFlight,
      waiting: this.waiting,
      fallbackAcquisitions: this.fallbackAcquisitions,
      storeErrors: this.storeErrors,
    };
  }
}

/**
 * The wait under which a fraction `q` of the counted grants fall, from bucket counts (linear
 * within the bucket, as Prometheus's histogram_quantile does). NaN when nothing was counted.
 * Waits above the last bound are reported as that bound.
 */
export function waitQuantileMs(counts: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] as number;
  if (total === 0) return NaN;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] as number;
    if (below + n >= rank && n > 0) {
      const upper = WAIT_BUCKETS_MS[i];
      if (upper === undefined) return WAIT_BUCKETS_MS[WAIT_BUCKETS_MS.length - 1] as number;
      const lower = i === 0 ? 0 : (WAIT_BUCKETS_MS[i - 1] as number);
      return lower + ((upper - lower) * (rank - below)) / n;
    }
    below += n;
  }
  return WAIT_BUCKETS_MS[WAIT_BUCKETS_MS.length - 1] as number;
}
