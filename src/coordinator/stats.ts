/**
 * Counters of one configured limiter, host-wide: every key of the limiter (its
 * `getOrCloneLimiter` clones included) and every client of the coordinator add to them.
 */

export interface LimiterMetrics {
  /** Permits granted. */
  acquisitions: number;
  /** Requests that got no permit within their timeout (timeout 0 refusals included). */
  timeouts: number;
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
}

export class LimiterStats {
  acquisitions = 0;
  timeouts = 0;
  cancellations = 0;
  totalWaitMs = 0;
  maxWaitMs = 0;
  inFlight = 0;
  waiting = 0;
  fallbackAcquisitions = 0;

  granted(waitMs: number): void {
    this.acquisitions++;
    this.totalWaitMs += waitMs;
    if (waitMs > this.maxWaitMs) this.maxWaitMs = waitMs;
  }

  snapshot(): LimiterMetrics {
    return {
      acquisitions: this.acquisitions,
      timeouts: this.timeouts,
      cancellations: this.cancellations,
      totalWaitMs: this.totalWaitMs,
      maxWaitMs: this.maxWaitMs,
      avgWaitMs: this.acquisitions === 0 ? 0 : this.totalWaitMs / this.acquisitions,
      inFlight: this.inFlight,
      waiting: this.waiting,
      fallbackAcquisitions: this.fallbackAcquisitions,
    };
  }
}
