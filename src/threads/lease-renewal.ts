/**
 * Leases a client renews itself: those of a worker thread whose exit its main thread cannot see
 * (started by another thread, or before rate-sync was loaded). The coordinator does not renew
 * them, so a lease this thread stops renewing — because it died — comes back after its
 * lease_seconds instead of staying taken.
 *
 * Every held lease is renewed within a third of its lease_seconds, all of them in one `renew`.
 * Leases the coordinator reports lost (not renewed in time: the thread was blocked for longer
 * than lease_seconds) are forgotten, with a warning. The timer never keeps the thread alive.
 */

/** Renewal period when a limiter's lease_seconds is unknown, and the shortest one. */
const UNKNOWN_PERIOD_MS = 1000;
const MIN_PERIOD_MS = 50;

export type Renew = (leases: string[]) => Promise<string[]>;

export class LeaseRenewal {
  readonly #renew: Renew;
  /** Lease id → limiter id and renewal period. */
  readonly #held = new Map<string, { limiterId: string; periodMs: number }>();
  #timer: NodeJS.Timeout | undefined;
  #dueAt = Infinity;

  constructor(renew: Renew) {
    this.#renew = renew;
  }

  hold(lease: string, limiterId: string, leaseMs: number | undefined): void {
    const periodMs = leaseMs === undefined ? UNKNOWN_PERIOD_MS : Math.max(MIN_PERIOD_MS, leaseMs / 3);
    this.#held.set(lease, { limiterId, periodMs });
    this.#arm(periodMs);
  }

  forget(lease: string): void {
    this.#held.delete(lease);
    if (this.#held.size === 0) this.#disarm();
  }

  stop(): void {
    this.#held.clear();
    this.#disarm();
  }

  #arm(periodMs: number): void {
    const at = performance.now() + periodMs;
    if (at >= this.#dueAt) return;
    this.#disarm();
    this.#dueAt = at;
    this.#timer = setTimeout(() => this.#cycle(), periodMs);
    this.#timer.unref();
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dueAt = Infinity;
  }

  #cycle(): void {
    this.#timer = undefined;
    this.#dueAt = Infinity;
    if (this.#held.size === 0) return;
    let periodMs = Infinity;
    for (const { periodMs: p } of this.#held.values()) periodMs = Math.min(periodMs, p);
    this.#arm(periodMs);
    this.#renew([...this.#held.keys()]).then(
      (lost) => this.#lost(lost),
      // The connection is gone: its leases were released with it.
      () => undefined,
    );
  }

  #lost(leases: string[]): void {
    const limiters = new Set<string>();
    for (const lease of leases) {
      const held = this.#held.get(lease);
      if (held === undefined) continue; // released meanwhile
      limiters.add(held.limiterId);
      this.forget(lease);
    }
    if (limiters.size === 0) return;
    process.emitWarning(
      `rate-sync: leases of limiter(s) ${[...limiters].map((l) => `"${l}"`).join(', ')} held by worker thread of pid ` +
        `${process.pid} were reclaimed before it renewed them: it was blocked for longer than lease_seconds. ` +
        'Their slots may be in use by others now.',
      { code: 'RATE_SYNC_LEASE_LOST' },
    );
  }
}
