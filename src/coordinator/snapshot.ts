/**
 * `coordinator.snapshot()`: a plain-data picture of what the coordinator is doing now — each
 * limiter with its counters, its busiest keys, the connected clients and the stores' health.
 * Prometheus metrics (src/metrics/), `ratesync status` and the status page (src/status/) are
 * all built from it, so they never disagree. Taking one walks the queued keys and the leases
 * only when busiest keys are asked for; the counters are read, never reset.
 */
import type { LimiterConfig } from '../config/types.js';
import type { StoreStatus } from '../stores/store.js';
import type { Peer } from './coordinator.js';
import type { LeaseRecord } from './lease-book.js';
import type { LimiterTable, ResolvedLimiter } from './limiter-table.js';
import type { ClientKind } from './protocol.js';
import type { LimiterMetrics } from './stats.js';

export interface SnapshotOptions {
  /** Busiest keys reported per limiter (by waiting + in flight); 0 skips the walk. @default 0 */
  keys?: number;
}

export interface CoordinatorSnapshot {
  /** When it was taken, epoch ms. */
  readonly at: number;
  /** The coordinator was shut down (then there are no limiters). */
  readonly closed: boolean;
  readonly limiters: LimiterSnapshot[];
  readonly clients: ClientSnapshot[];
  readonly stores: StoreSnapshot[];
}

export interface LimiterSnapshot {
  readonly id: string;
  /** The configured limiter a cloneLimiter() clone descends from; its own id otherwise. */
  readonly root: string;
  readonly config: LimiterConfig;
  /** Host-wide counters (getOrCloneLimiter keys included). */
  readonly metrics: LimiterMetrics;
  /** Grants per wait bucket since start: waitCounts[i] ≤ WAIT_BUCKETS_MS[i] ms, the last one above. */
  readonly waitCounts: number[];
  /** Its store is unreachable and it decides from its local fallback share (not fail_closed). */
  readonly fallback: boolean;
  /** The busiest keys now, at most `options.keys`. */
  readonly keys: KeySnapshot[];
}

export interface KeySnapshot {
  /** The store key: `limiter` or `limiter:key`. */
  readonly id: string;
  readonly waiting: number;
  /** Lease units held. */
  readonly inFlight: number;
}

export interface ClientSnapshot {
  readonly id: number;
  readonly kind: ClientKind;
  readonly label: string;
  /** From the client's hello (threads and forks); absent for the main thread and bridge clients. */
  readonly pid?: number;
  readonly threadId?: number;
  readonly waiting: number;
  readonly leases: number;
}

export interface StoreSnapshot {
  readonly id: string;
  readonly engine: string;
  /** Absent for embedded stores (memory), which cannot become unreachable. */
  readonly status?: StoreStatus;
}

/** What the coordinator hands over (its own structures, read only). */
export interface SnapshotSource {
  readonly at: number;
  readonly closed: boolean;
  readonly table: LimiterTable;
  readonly queued: Iterable<{ readonly id: string; readonly limiter: ResolvedLimiter; readonly queue: { readonly size: number } }>;
  readonly leases: Iterable<LeaseRecord>;
  readonly peers: Iterable<Peer>;
}

export function takeSnapshot(source: SnapshotSource, options: SnapshotOptions): CoordinatorSnapshot {
  const keys = (options.keys ?? 0) > 0 ? busiestKeys(source, options.keys as number) : new Map<string, KeySnapshot[]>();
  const limiters: LimiterSnapshot[] = [];
  const stores = new Map<string, StoreSnapshot>();
  for (const [id, resolved] of source.table.entries()) {
    const status = resolved.store.status;
    if (!stores.has(resolved.store.id)) {
      stores.set(resolved.store.id, {
        id: resolved.store.id,
        engine: resolved.store.engine,
        ...(status === undefined ? {} : { status: { ...status } }),
      });
    }
    limiters.push({
      id,
      root: source.table.rootOf(id),
      config: resolved.config,
      metrics: resolved.stats.snapshot(),
      waitCounts: resolved.stats.waitCounts,
      fallback: status?.mode === 'down' && !resolved.config.failClosed,
      keys: keys.get(id) ?? [],
    });
  }
  const clients = [...source.peers].map(
    (p): ClientSnapshot => ({
      id: p.id,
      kind: p.kind,
      label: p.hello?.label ?? p.label,
      ...(p.hello === undefined ? {} : { pid: p.hello.pid, threadId: p.hello.threadId }),
      waiting: p.waiters.size,
      leases: p.leases.size,
    }),
  );
  return { at: source.at, closed: source.closed, limiters, clients, stores: [...stores.values()] };
}

function busiestKeys(source: SnapshotSource, n: number): Map<string, KeySnapshot[]> {
  const byLimiter = new Map<string, Map<string, { id: string; waiting: number; inFlight: number }>>();
  const slot = (limiter: string, id: string): { id: string; waiting: number; inFlight: number } => {
    let keys = byLimiter.get(limiter);
    if (keys === undefined) byLimiter.set(limiter, (keys = new Map()));
    let k = keys.get(id);
    if (k === undefined) keys.set(id, (k = { id, waiting: 0, inFlight: 0 }));
    return k;
  };
  for (const entry of source.queued) if (entry.queue.size > 0) slot(entry.limiter.spec.id, entry.id).waiting += entry.queue.size;
  for (const lease of source.leases) slot(lease.limiter.spec.id, lease.key).inFlight += lease.units;
  const out = new Map<string, KeySnapshot[]>();
  for (const [limiter, keys] of byLimiter) {
    const sorted = [...keys.values()].sort((a, b) => b.waiting + b.inFlight - (a.waiting + a.inFlight) || (a.id < b.id ? -1 : 1));
    out.set(limiter, sorted.slice(0, n));
  }
  return out;
}
