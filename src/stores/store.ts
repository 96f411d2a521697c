/**
 * The storage contract between the coordinator and a backend (memory, Redis). A store decides
 * with the pure algorithms of `src/algorithms/` against state it owns, atomically per call.
 * Waiting is never the store's business: it only says when to ask again, and the coordinator
 * keeps the waiter queues and the timers.
 *
 * Methods may answer synchronously (the memory store) or with a promise (Redis): the coordinator
 * handles both, so the embedded store costs no promise per decision.
 */
import type { PolicyParams } from '../algorithms/policy.js';

export type MaybePromise<T> = T | Promise<T>;

/** What a store needs to know about a limiter. */
export interface LimiterSpec {
  /** The configured limiter id (the base id for `getOrCloneLimiter` clones). */
  readonly id: string;
  readonly storeId: string;
  readonly policy: PolicyParams;
  /** Refuse (StoreUnavailableError) rather than fall back when the store is unreachable. */
  readonly failClosed?: boolean;
}

export interface AcquireItem {
  readonly cost: number;
  /** Lease to take when the policy limits concurrency, else null. */
  readonly leaseId: string | null;
}

export interface AcquireResult {
  /** How many items, from the first, were granted, in order. The first refusal stops the batch. */
  readonly granted: number;
  /**
   * When not every item was granted: milliseconds from now until the first refused item could be
   * granted if nothing else changes (Infinity: only a release can help).
   */
  readonly retryAfterMs: number;
  /**
   * The decision instant on the coordinator's clock, for stores that decide with it (memory):
   * grants are stamped with it, so the stamps obey the limits exactly.
   */
  readonly decidedAt?: number;
  /** True when the store could not reach its backend and decided from its local fallback share. */
  readonly fallback?: boolean;
}

export interface KeyStateView {
  readonly remaining: number;
  /** Milliseconds from now until one more unit could be granted (0: now). */
  readonly retryAfterMs: number;
  /** Milliseconds from now until the key is back to full capacity. */
  readonly resetAfterMs: number;
  readonly inFlight: number;
}

/** What a store may tell its owner, the coordinator. */
export interface StoreHooks {
  /**
   * A key's state changed outside this coordinator (another host released a lease; the backend
   * came back after an outage): its waiters may be served now rather than at their timer.
   */
  keyChanged?(key: string): void;
  /** One line per notable event (backend lost, back, fallback in use). */
  log?(event: string, fields: Record<string, unknown>): void;
}

/** Health of a store that can lose its backend (Redis), for metrics and status pages. */
export interface StoreStatus {
  /** `up`: decisions in the backend; `down`: unreachable, fail_closed limiters refuse and the others fall back. */
  readonly mode: string;
  /** Times the backend became unreachable. */
  readonly outages: number;
  /** Calls decided from the local fallback share. */
  readonly fallbackDecisions: number;
  readonly lastError: string | undefined;
}

export interface Store {
  readonly id: string;
  readonly engine: string;
  /** Absent for embedded stores, which cannot become unreachable. */
  readonly status?: StoreStatus;
  /**
   * True when every call answers synchronously (embedded stores): the coordinator then decides
   * a request for a key nobody waits on at once, without queueing it.
   */
  readonly synchronous: boolean;
  /**
   * Grants items of one key in order, all or a prefix, in one atomic step (so a busy key costs
   * one store round trip per batch, not one per permit).
   */
  acquire(spec: LimiterSpec, key: string, items: readonly AcquireItem[]): MaybePromise<AcquireResult>;
  /** Returns a lease; unknown or already released leases are ignored. */
  release(spec: LimiterSpec, key: string, leaseId: string): MaybePromise<void>;
  /** Extends leases whose holders are alive; returns the ids that were no longer held. */
  renew(spec: LimiterSpec, key: string, leaseIds: readonly string[]): MaybePromise<string[]>;
  /** Reads a key's state without consuming anything. */
  inspect(spec: LimiterSpec, key: string): MaybePromise<KeyStateView>;
  close(): Promise<void>;
}
