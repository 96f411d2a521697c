/**
 * A limiter's policy: a rate part (GCRA or sliding window) and/or a concurrency part (leases),
 * decided together. A request is granted only when every part allows it, and a refused request
 * changes nothing — in any combination.
 *
 * Everything here is pure: state in, `now` in, decision out. Stores call these functions; they
 * never re-implement them (the Redis Lua scripts are the one other copy, checked by shared vectors).
 */
import { gcraReadyAt, gcraRemaining, gcraTake, EPSILON_MS, type GcraParams } from './gcra.js';
import {
  leasePrune,
  leaseReadyAt,
  leaseTake,
  newLeaseTable,
  type LeaseParams,
  type LeaseTable,
} from './leases.js';
import {
  newWindowLog,
  windowIdleAt,
  windowNextExpiry,
  windowPrune,
  windowReadyAt,
  windowTake,
  type WindowLog,
  type WindowParams,
} from './sliding-window.js';

export interface PolicyParams {
  readonly rate?: GcraParams;
  readonly window?: WindowParams;
  readonly concurrency?: LeaseParams;
}

/** The state of one limiter key. Parts are created on first use. */
export interface KeyState {
  tat?: number;
  log?: WindowLog;
  leases?: LeaseTable;
}

export type RefusalReason = 'rate' | 'window' | 'concurrency';

export type Decision =
  | { readonly granted: true }
  | { readonly granted: false; readonly retryAt: number; readonly reason: RefusalReason };

const GRANTED: Decision = Object.freeze({ granted: true });

/** The largest cost a single request may ask for (more could never be granted). */
export function maxCost(p: PolicyParams): number {
  return Math.min(p.rate?.burst ?? Infinity, p.window?.limit ?? Infinity, p.concurrency?.max ?? Infinity);
}

/**
 * Grants `cost` units at `now` and takes lease `leaseId` (required when the policy has a
 * concurrency part), or says when the request could succeed. State changes only on a grant.
 */
export function decide(state: KeyState, now: number, cost: number, leaseId: string | null, p: PolicyParams): Decision {
  let retryAt = -Infinity;
  let reason: RefusalReason = 'rate';
  if (p.rate !== undefined) {
    const at = gcraReadyAt(state.tat, now, cost, p.rate);
    if (at > now + EPSILON_MS) {
      retryAt = at;
    }
  }
  if (p.window !== undefined) {
    state.log ??= newWindowLog();
    windowPrune(state.log, now, p.window);
    const at = windowReadyAt(state.log, now, cost, p.window);
    if (at > now && at > retryAt) {
      retryAt = at;
      reason = 'window';
    }
  }
  if (p.concurrency !== undefined) {
    state.leases ??= newLeaseTable();
    leasePrune(state.leases, now);
    const at = leaseReadyAt(state.leases, now, cost, p.concurrency);
    if (at > now && at > retryAt) {
      retryAt = at;
      reason = 'concurrency';
    }
  }
  if (retryAt > now) return { granted: false, retryAt, reason };

  if (p.rate !== undefined) state.tat = gcraTake(state.tat, now, cost, p.rate);
  if (p.window !== undefined) windowTake(state.log as WindowLog, now, cost);
  if (p.concurrency !== undefined) {
    if (leaseId === null) throw new TypeError('a lease id is required by a policy with max_concurrent');
    leaseTake(state.leases as LeaseTable, now, leaseId, cost, p.concurrency);
  }
  return GRANTED;
}

export interface KeyView {
  /** Whole units that could be granted at `now`. */
  readonly remaining: number;
  /** When one more unit could be granted (`now` if it can be now). */
  readonly retryAt: number;
  /** When the key is back to full capacity, if nothing else is granted. */
  readonly resetAt: number;
  /** Units held by leases. */
  readonly inFlight: number;
}

/** Reads the state without changing what it allows (expired entries may be dropped). */
export function inspect(state: KeyState, now: number, p: PolicyParams): KeyView {
  let remaining = Infinity;
  let retryAt = now;
  let resetAt = now;
  if (p.rate !== undefined) {
    remaining = gcraRemaining(state.tat, now, p.rate);
    if (remaining < 1) retryAt = Math.max(retryAt, gcraReadyAt(state.tat, now, 1, p.rate));
    if (state.tat !== undefined) resetAt = Math.max(resetAt, state.tat);
  }
  if (p.window !== undefined && state.log !== undefined) {
    windowPrune(state.log, now, p.window);
    remaining = Math.min(remaining, p.window.limit - state.log.total);
    if (state.log.total >= p.window.limit) retryAt = Math.max(retryAt, windowNextExpiry(state.log, p.window));
    resetAt = Math.max(resetAt, windowIdleAt(state.log, p.window));
  } else if (p.window !== undefined) {
    remaining = Math.min(remaining, p.window.limit);
  }
  let inFlight = 0;
  if (p.concurrency !== undefined) {
    if (state.leases !== undefined) {
      leasePrune(state.leases, now);
      inFlight = state.leases.used;
      if (inFlight >= p.concurrency.max) retryAt = Math.max(retryAt, leaseReadyAt(state.leases, now, 1, p.concurrency));
    }
    remaining = Math.min(remaining, p.concurrency.max - inFlight);
  }
  return { remaining: Math.max(0, remaining), retryAt, resetAt, inFlight };
}

/**
 * The instant from which the key's state is indistinguishable from a fresh one, so it can be
 * dropped. Held leases keep a key alive until they are released or expire.
 */
export function idleAt(state: KeyState, p: PolicyParams): number {
  let at = -Infinity;
  if (state.tat !== undefined) at = state.tat;
  if (state.log !== undefined && p.window !== undefined) at = Math.max(at, windowIdleAt(state.log, p.window));
  if (state.leases !== undefined && state.leases.leases.size > 0) {
    let latest = -Infinity;
    for (const lease of state.leases.leases.values()) latest = Math.max(latest, lease.expiresAt);
    at = Math.max(at, latest);
  }
  return at;
}
