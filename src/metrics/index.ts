/**
 * Prometheus metrics of a coordinator (`rate-sync/metrics`), for `ratesync serve` and for
 * embedding in a server you already have:
 *
 *   const registry = createMetrics(rs);   // or createMetrics(rs, { registry: existing })
 *   app.get('/metrics', async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
 *
 * Every value is read from `coordinator.snapshot()` when the registry is scraped, so a grant
 * costs the coordinator a few additions and no prom-client call. Labels are bounded: one
 * `limiter` label per configured limiter (getOrCloneLimiter keys and, by default, cloneLimiter
 * clones count with the limiter they come from). docs/observability.md lists every metric.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { CeleryBridge } from '../celery-bridge/bridge.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { CoordinatorSnapshot } from '../coordinator/snapshot.js';
import { WAIT_BUCKETS_MS } from '../coordinator/stats.js';
import type { RateSync } from '../rate-sync.js';
import { CollectedHistogram } from './collected-histogram.js';
import { aggregate, type LimiterSeries } from './series.js';

export interface MetricsOptions {
  /** Registry to fill (e.g. prom-client's global `register`). @default a new Registry */
  registry?: Registry;
  /** Adds the Celery bridge's metrics (a function: the bridge in use at scrape time, if any). */
  bridge?: CeleryBridge | (() => CeleryBridge | undefined);
  /**
   * `root`: a cloneLimiter() clone is counted with the configured limiter it was made from, so the
   * number of series stays bounded however many clones are made. `own`: each clone is a series.
   * @default 'root'
   */
  clones?: 'root' | 'own';
}

type Source = RateSync | Coordinator;

/** Registers the rate-sync metrics of `source`'s coordinator in a registry and returns it. */
export function createMetrics(source: Source, options: MetricsOptions = {}): Registry {
  const registry = options.registry ?? new Registry();
  const coordinator = (): Coordinator => ('snapshot' in source ? source : source.coordinator);
  // One snapshot per scrape: the registry calls every metric's collect() in one synchronous run.
  let cached: { snapshot: CoordinatorSnapshot; series: LimiterSeries[] } | undefined;
  const current = (): { snapshot: CoordinatorSnapshot; series: LimiterSeries[] } => {
    if (cached === undefined) {
      const snapshot = coordinator().snapshot();
      cached = { snapshot, series: aggregate(snapshot.limiters, options.clones ?? 'root') };
      queueMicrotask(() => (cached = undefined));
    }
    return cached;
  };
  const perLimiter = (
    Kind: typeof Counter | typeof Gauge,
    name: string,
    help: string,
    value: (s: LimiterSeries) => number | undefined,
  ): void => {
    new Kind({
      name,
      help,
      labelNames: ['limiter'],
      registers: [registry],
      collect(this: Counter | Gauge) {
        this.reset();
        for (const s of current().series) {
          const v = value(s);
          if (v !== undefined) (this as Gauge).inc({ limiter: s.limiter }, v);
        }
      },
    });
  };

  perLimiter(Counter, 'ratesync_grants_total', 'Permits granted.', (s) => s.metrics.acquisitions);
  perLimiter(Counter, 'ratesync_refusals_total', 'One-try requests (timeout 0) refused at once.', (s) => s.metrics.refusals);
  perLimiter(Counter, 'ratesync_timeouts_total', 'Requests whose timeout ran out while they waited.', (s) => s.metrics.timeouts - s.metrics.refusals);
  perLimiter(Counter, 'ratesync_cancellations_total', 'Requests withdrawn by their caller (AbortSignal, client gone).', (s) => s.metrics.cancellations);
  perLimiter(Counter, 'ratesync_fallback_grants_total', 'Permits granted from the local fallback share while the store was unreachable.', (s) => s.metrics.fallbackAcquisitions);
  perLimiter(Counter, 'ratesync_store_errors_total', 'Store calls that failed.', (s) => s.metrics.storeErrors);
  perLimiter(Gauge, 'ratesync_in_flight', 'Lease units held now (limiters with max_concurrent).', (s) => s.metrics.inFlight);
  perLimiter(Gauge, 'ratesync_waiting', 'Requests waiting for a permit now.', (s) => s.metrics.waiting);
  perLimiter(Gauge, 'ratesync_fallback_active', '1 while the store is unreachable and the limiter decides from its local fallback share.', (s) => (s.fallback ? 1 : 0));
  perLimiter(Gauge, 'ratesync_quota_per_second', 'Sustained quota: rate_per_second, or limit / window_seconds.', (s) => s.quotaPerSecond);
  perLimiter(Gauge, 'ratesync_max_concurrent', 'Leases allowed at once (limiters with max_concurrent).', (s) => s.config.maxConcurrent);
  registry.registerMetric(
    new CollectedHistogram({
      name: 'ratesync_wait_seconds',
      help: 'Time granted requests waited for their permit.',
      labelNames: ['limiter'],
      bounds: WAIT_BUCKETS_MS.map((ms) => ms / 1000),
      read: () => current().series.map((s) => ({ labels: { limiter: s.limiter }, counts: s.waitCounts, sum: s.metrics.totalWaitMs / 1000 })),
    }),
  );

  new Gauge({
    name: 'ratesync_clients',
    help: 'Clients connected to the coordinator, by kind (local, thread, fork, bridge).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const kind of ['local', 'thread', 'fork', 'bridge']) this.set({ kind }, 0);
      for (const c of current().snapshot.clients) this.inc({ kind: c.kind });
    },
  });
  const perStore = (Kind: typeof Counter | typeof Gauge, name: string, help: string, value: (s: NonNullable<CoordinatorSnapshot['stores'][number]['status']>) => number): void => {
    new Kind({
      name,
      help,
      labelNames: ['store'],
      registers: [registry],
      collect(this: Counter | Gauge) {
        this.reset();
        for (const s of current().snapshot.stores) if (s.status !== undefined) (this as Gauge).inc({ store: s.id }, value(s.status));
      },
    });
  };
  perStore(Gauge, 'ratesync_store_up', '0 while a Redis store is unreachable, else 1.', (s) => (s.mode === 'down' ? 0 : 1));
  perStore(Counter, 'ratesync_store_outages_total', 'Times a Redis store became unreachable.', (s) => s.outages);

  if (options.bridge !== undefined) registerBridge(registry, typeof options.bridge === 'function' ? options.bridge : () => options.bridge as CeleryBridge);
  return registry;
}

function registerBridge(registry: Registry, bridge: () => CeleryBridge | undefined): void {
  const counter = (name: string, help: string, value: (s: ReturnType<CeleryBridge['stats']>) => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const b = bridge();
        if (b !== undefined) this.inc(value(b.stats()));
      },
    });
  };
  counter('ratesync_bridge_received_total', 'Entries popped from the bridge lists.', (s) => s.received);
  counter('ratesync_bridge_rejected_total', 'Bridge entries refused as garbage (invalid JSON, wrong version, bad fields, too big).', (s) => s.rejected);
  counter('ratesync_bridge_expired_total', 'Bridge requests whose deadline passed while they waited in the list.', (s) => s.expired);
  counter('ratesync_bridge_stale_total', 'Bridge requests read after their client had stopped listening (dropped).', (s) => s.stale);
  counter('ratesync_bridge_replies_total', 'Replies pushed to bridge clients.', (s) => s.replies);
  counter('ratesync_bridge_conflicts_total', 'Times another coordinator was seen serving the namespace when one of the two must be alone.', (s) => s.conflicts);
  new Counter({
    name: 'ratesync_bridge_error_replies_total',
    help: 'Error replies pushed to bridge clients, by error code.',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, n] of Object.entries(bridge()?.stats().errors ?? {})) this.inc({ code }, n);
    },
  });
  new Gauge({
    name: 'ratesync_bridge_sessions',
    help: 'Bridge clients (Celery worker processes) known now.',
    registers: [registry],
    collect() {
      this.set(bridge()?.stats().sessions ?? 0);
    },
  });
}
