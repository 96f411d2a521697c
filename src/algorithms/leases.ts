/**
 * Concurrency as leases: each grant holds `units` of `max` until it is released or its lease
 * expires. Leases have ids, so a release is idempotent and releasing an unknown or already
 * released lease never raises capacity (a counting semaphore would).
 */

export interface LeaseParams {
  readonly max: number;
  /** A lease not renewed for this long is reclaimed. */
  readonly leaseMs: number;
}

interface Lease {
  units: number;
  expiresAt: number;
}

export interface LeaseTable {
  readonly leases: Map<string, Lease>;
  used: number;
  /** Lower bound of every lease's expiry, so pruning does not scan on every call. */
  nextExpiry: number;
}

export function newLeaseTable(): LeaseTable {
  return { leases: new Map(), used: 0, nextExpiry: Infinity };
}

/** Reclaims leases whose holder stopped renewing them. Returns the ids reclaimed. */
export function leasePrune(table: LeaseTable, now: number): string[] {
  if (now < table.nextExpiry) return [];
  const reclaimed: string[] = [];
  let next = Infinity;
  for (const [id, lease] of table.leases) {
    if (lease.expiresAt <= now) {
      table.leases.delete(id);
      table.used -= lease.units;
      reclaimed.push(id);
    } else if (lease.expiresAt < next) {
      next = lease.expiresAt;
    }
  }
  table.nextExpiry = next;
  return reclaimed;
}

/** The earliest instant at which `units` fit, if no lease is released early (call after leasePrune). */
export function leaseReadyAt(table: LeaseTable, now: number, units: number, p: LeaseParams): number {
  if (units > p.max) return Infinity;
  let excess = table.used + units - p.max;
  if (excess <= 0) return now;
  const expiries = [...table.leases.values()].sort((a, b) => a.expiresAt - b.expiresAt);
  for (const lease of expiries) {
    excess -= lease.units;
    if (excess <= 0) return lease.expiresAt;
  }
  return Infinity;
}

export function leaseTake(table: LeaseTable, now: number, id: string, units: number, p: LeaseParams): void {
  const expiresAt = now + p.leaseMs;
  table.leases.set(id, { units, expiresAt });
  table.used += units;
  if (expiresAt < table.nextExpiry) table.nextExpiry = expiresAt;
}

/** Returns whether the lease was held (false for an unknown, expired or already released id). */
export function leaseRelease(table: LeaseTable, id: string): boolean {
  const lease = table.leases.get(id);
  if (lease === undefined) return false;
  table.leases.delete(id);
  table.used -= lease.units;
  return true;
}

/** Extends a held lease; returns false when it is no longer held (it expired or was released). */
export function leaseRenew(table: LeaseTable, id: string, now: number, p: LeaseParams): boolean {
  const lease = table.leases.get(id);
  if (lease === undefined || lease.expiresAt <= now) return false;
  lease.expiresAt = now + p.leaseMs;
  return true;
}
