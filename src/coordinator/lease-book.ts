/**
 * Who holds which lease. The store holds the leases themselves (with an expiry, so a dead
 * holder's slot comes back on its own); this book remembers the holder of each one so that:
 * - a client that goes away (thread exit, fork death, closed port) loses its leases at once;
 * - leases of clients whose death the coordinator would see are renewed while they live,
 *   so a long job never loses its slot to the expiry;
 * - leases of clients that renew for themselves (the Celery bridge) are forgotten here once
 *   they stop renewing, exactly when the store reclaims them.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { ResolvedLimiter } from './limiter-table.js';

export interface LeaseHolder {
  /** True when the coordinator sees this client die, so it may renew on its behalf. */
  readonly renewsForItself: boolean;
  readonly leases: Set<string>;
}

export interface LeaseRecord {
  readonly id: string;
  readonly holder: LeaseHolder;
  readonly limiter: ResolvedLimiter;
  readonly key: string;
  readonly units: number;
  /** Local estimate of the store's expiry, for holders that renew for themselves. */
  expiresAt: number;
}

export type OnLeasesLost = (records: LeaseRecord[]) => void;

export class LeaseBook {
  readonly #clock: Clock;
  readonly #onLost: OnLeasesLost;
  readonly #records = new Map<string, LeaseRecord>();
  #timer: TimerHandle | undefined;

  constructor(clock: Clock, onLost: OnLeasesLost) {
    this.#clock = clock;
    this.#onLost = onLost;
  }

  get size(): number {
    return this.#records.size;
  }

  get(id: string): LeaseRecord | undefined {
    return this.#records.get(id);
  }

  values(): IterableIterator<LeaseRecord> {
    return this.#records.values();
  }

  add(record: LeaseRecord): void {
    this.#records.set(record.id, record);
    record.holder.leases.add(record.id);
    this.#arm();
  }

  /** Forgets a lease and returns its record (undefined when it was not held). */
  remove(id: string): LeaseRecord | undefined {
    const record = this.#records.get(id);
    if (record === undefined) return undefined;
    this.#records.delete(id);
    record.holder.leases.delete(id);
    return record;
  }

  /** Records a renewal made by a holder that renews for itself. */
  touch(id: string): LeaseRecord | undefined {
    const record = this.#records.get(id);
    if (record !== undefined) {
      record.expiresAt = this.#clock.now() + leaseMsOf(record);
    }
    return record;
  }

  clear(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const record of this.#records.values()) record.holder.leases.delete(record.id);
    this.#records.clear();
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#records.size === 0) return;
    let period = Infinity;
    for (const record of this.#records.values()) period = Math.min(period, leaseMsOf(record) / 3);
    this.#timer = this.#clock.setTimeout(() => this.#cycle(), period, { weak: true });
  }

  /** Renews live holders' leases, one store call per key, and forgets the expired ones of the others. */
  #cycle(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    const byKey = new Map<string, LeaseRecord[]>();
    const expired: LeaseRecord[] = [];
    for (const record of this.#records.values()) {
      if (record.holder.renewsForItself) {
        if (record.expiresAt <= now) expired.push(record);
        continue;
      }
      const group = `${record.limiter.spec.storeId}\u0000${record.key}`;
      const list = byKey.get(group);
      if (list === undefined) byKey.set(group, [record]);
      else list.push(record);
    }
    for (const record of expired) this.remove(record.id);
    if (expired.length > 0) this.#onLost(expired);
    for (const records of byKey.values()) this.#renew(records);
    this.#arm();
  }

  #renew(records: LeaseRecord[]): void {
    const first = records[0] as LeaseRecord;
    const ids = records.map((r) => r.id);
    const lost = (gone: string[]): void => {
      const recs = gone.map((id) => this.remove(id)).filter((r): r is LeaseRecord => r !== undefined);
      if (recs.length > 0) this.#onLost(recs);
    };
    try {
      const result = first.limiter.store.renew(first.limiter.spec, first.key, ids);
      if (result instanceof Promise) result.then(lost, () => undefined);
      else lost(result);
    } catch {
      // An unreachable store is retried at the next cycle; its failure policy is the store's business.
    }
  }
}

function leaseMsOf(record: LeaseRecord): number {
  return record.limiter.spec.policy.concurrency?.leaseMs ?? 60_000;
}
