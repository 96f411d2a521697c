/**
 * Store errors, logged without flooding the user's log. While a store is down, every batch of
 * every waiting key fails (a fail_closed limiter under load fails hundreds of times a second),
 * and one line per failure would bury everything else. Per store:
 *
 * - the first error is logged at once: `store_error` { store, limiter, error };
 * - the next ones are counted, and summed up at most once per `summaryMs`:
 *   `store_errors` { store, count, limiters, lastError, periodMs };
 * - the first decision the store makes again logs `store_errors_ended` { store, errors, durationMs }
 *   (errors: all of them since the first), after a last summary of what was still uncounted.
 *
 * (A Redis store also logs its own connectivity: `store_unavailable`, `store_recovered`.)
 */
import type { Clock, TimerHandle } from '../clock.js';

export type Log = (event: string, fields: Record<string, unknown>) => void;

/** Limiter ids named in one summary, at most. */
const MAX_LIMITERS = 10;

interface Failing {
  readonly since: number;
  /** Errors since the first one, logged or not. */
  total: number;
  /** Errors not logged yet. */
  pending: number;
  readonly limiters: Set<string>;
  lastError: string;
  lastSummary: number;
  timer: TimerHandle | undefined;
}

export class StoreErrorLog {
  readonly #clock: Clock;
  readonly #log: Log;
  readonly #summaryMs: number;
  readonly #failing = new Map<string, Failing>();

  constructor(clock: Clock, log: Log, summaryMs = 10_000) {
    this.#clock = clock;
    this.#log = log;
    this.#summaryMs = summaryMs;
  }

  error(store: string, limiter: string, error: string): void {
    const now = this.#clock.now();
    const failing = this.#failing.get(store);
    if (failing === undefined) {
      this.#failing.set(store, { since: now, total: 1, pending: 0, limiters: new Set(), lastError: error, lastSummary: now, timer: undefined });
      this.#log('store_error', { store, limiter, error });
      return;
    }
    failing.total++;
    failing.pending++;
    failing.lastError = error;
    if (failing.limiters.size < MAX_LIMITERS) failing.limiters.add(limiter);
    if (failing.timer === undefined) {
      const due = Math.max(0, failing.lastSummary + this.#summaryMs - now);
      failing.timer = this.#clock.setTimeout(() => this.#summary(store, failing), due, { weak: true });
    }
  }

  /** The store decided something: if it was failing, say that it no longer is. */
  ok(store: string): void {
    if (this.#failing.size === 0) return;
    const failing = this.#failing.get(store);
    if (failing === undefined) return;
    this.#summary(store, failing);
    this.#failing.delete(store);
    this.#log('store_errors_ended', { store, errors: failing.total, durationMs: Math.round(this.#clock.now() - failing.since) });
  }

  /** Logs what is still uncounted and stops the timers. */
  close(): void {
    for (const [store, failing] of this.#failing) this.#summary(store, failing);
    this.#failing.clear();
  }

  #summary(store: string, failing: Failing): void {
    if (failing.timer !== undefined) this.#clock.clearTimeout(failing.timer);
    failing.timer = undefined;
    if (failing.pending === 0) return;
    const now = this.#clock.now();
    this.#log('store_errors', {
      store,
      count: failing.pending,
      limiters: [...failing.limiters],
      lastError: failing.lastError,
      periodMs: Math.round(now - failing.lastSummary),
    });
    failing.pending = 0;
    failing.limiters.clear();
    failing.lastSummary = now;
  }
}
