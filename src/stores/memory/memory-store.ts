/**
 * The embedded store: limiter state in this process's memory, decided synchronously with the
 * pure algorithms. It is owned by one coordinator (one thread), so it needs no locks.
 *
 * Keys whose state has become indistinguishable from a fresh one are dropped by a sweep, so
 * a million keys touched once cost nothing once they are idle.
 */
import { decide, idleAt, inspect, type KeyState, type PolicyParams } from '../../algorithms/policy.js';
import { leaseRelease, leaseRenew } from '../../algorithms/leases.js';
import { systemClock, type Clock, type TimerHandle } from '../../clock.js';
import type { AcquireItem, AcquireResult, KeyStateView, LimiterSpec, Store } from '../store.js';

interface Entry {
  readonly state: KeyState;
  policy: PolicyParams;
}

export interface MemoryStoreOptions {
  clock?: Clock;
  /** How often idle keys are dropped. @default 5000 */
  sweepIntervalMs?: number;
}

/** Entries examined per sweep step, so a huge sweep never blocks the event loop for long. */
const SWEEP_CHUNK = 20_000;

export class MemoryStore implements Store {
  readonly id: string;
  readonly engine = 'memory';
  readonly synchronous = true;
  readonly #clock: Clock;
  readonly #sweepIntervalMs: number;
  readonly #entries = new Map<string, Entry>();
  #sweepTimer: TimerHandle | undefined;
  #sweepCursor: Iterator<[string, Entry]> | undefined;

  constructor(id: string, options: MemoryStoreOptions = {}) {
    this.id = id;
    this.#clock = options.clock ?? systemClock;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 5000;
  }

  /** Keys currently holding state (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  acquire(spec: LimiterSpec, key: string, items: readonly AcquireItem[]): AcquireResult {
    const now = this.#clock.now();
    const entry = this.#entry(spec, key);
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as AcquireItem;
      const d = decide(entry.state, now, item.cost, item.leaseId, spec.policy);
      if (!d.granted) return { granted: i, retryAfterMs: d.retryAt - now, decidedAt: now };
    }
    return { granted: items.length, retryAfterMs: 0, decidedAt: now };
  }

  release(_spec: LimiterSpec, key: string, leaseId: string): void {
    const leases = this.#entries.get(key)?.state.leases;
    if (leases !== undefined) leaseRelease(leases, leaseId);
  }

  renew(spec: LimiterSpec, key: string, leaseIds: readonly string[]): string[] {
    const leases = this.#entries.get(key)?.state.leases;
    const concurrency = spec.policy.concurrency;
    if (leases === undefined || concurrency === undefined) return [...leaseIds];
    const now = this.#clock.now();
    return leaseIds.filter((id) => !leaseRenew(leases, id, now, concurrency));
  }

  inspect(spec: LimiterSpec, key: string): KeyStateView {
    const now = this.#clock.now();
    const entry = this.#entries.get(key);
    const view = inspect(entry?.state ?? {}, now, spec.policy);
    return {
      remaining: view.remaining,
      retryAfterMs: view.retryAt - now,
      resetAfterMs: view.resetAt - now,
      inFlight: view.inFlight,
    };
  }

  async close(): Promise<void> {
    if (this.#sweepTimer !== undefined) this.#clock.clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#entries.clear();
  }

  #entry(spec: LimiterSpec, key: string): Entry {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { state: {}, policy: spec.policy };
      this.#entries.set(key, entry);
      if (this.#sweepTimer === undefined) this.#scheduleSweep(this.#sweepIntervalMs);
    } else {
      // A reloaded configuration applies from the next decision on.
      entry.policy = spec.policy;
    }
    return entry;
  }

  #scheduleSweep(ms: number): void {
    this.#sweepTimer = this.#clock.setTimeout(() => this.#sweep(), ms, { weak: true });
  }

  #sweep(): void {
    const now = this.#clock.now();
    this.#sweepCursor ??= this.#entries.entries();
    for (let n = 0; n < SWEEP_CHUNK; n++) {
      const next = this.#sweepCursor.next();
      if (next.done === true) {
        this.#sweepCursor = undefined;
        this.#sweepTimer = undefined;
        if (this.#entries.size > 0) this.#scheduleSweep(this.#sweepIntervalMs);
        return;
      }
      const [key, entry] = next.value;
      if (idleAt(entry.state, entry.policy) <= now) this.#entries.delete(key);
    }
    this.#scheduleSweep(0);
  }
}
