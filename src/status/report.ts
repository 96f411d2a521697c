/**
 * The status report: what `GET /status.json` answers, what `ratesync status` prints and what the
 * status page draws. Built from a fresh coordinator snapshot, the recent samples (History) and,
 * for `remaining`, the stores' own view of the busiest keys. Version 1 of its shape is
 * documented in docs/observability.md; fields are only ever added.
 */
import type { CeleryBridge } from '../celery-bridge/bridge.js';
import type { PresenceRecord } from '../celery-bridge/presence.js';
import type { LimiterConfig } from '../config/types.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { ClientSnapshot, LimiterSnapshot, StoreSnapshot } from '../coordinator/snapshot.js';
import { waitQuantileMs } from '../coordinator/stats.js';
import { aggregate, quotaPerSecond } from '../metrics/series.js';
import { VERSION } from '../version.js';
import { countsIn, countsOf, type History } from './history.js';

export interface StatusReport {
  readonly version: 1;
  /** Epoch ms. */
  readonly at: number;
  readonly coordinator: { readonly pid: number; readonly version: string; readonly config: string; readonly startedAt: number };
  /** What the `lastWindow` figures cover, in seconds (60, less just after start). */
  readonly windowSeconds: number;
  readonly limiters: LimiterStatus[];
  readonly clients: ClientSnapshot[];
  readonly stores: StoreSnapshot[];
  readonly bridge: BridgeStatus | null;
}

export interface LimiterStatus {
  readonly id: string;
  readonly store: string;
  readonly algorithm: LimiterConfig['algorithm'];
  /** The quota in words, e.g. "10/s, burst 5" or "5000 per 3600 s". */
  readonly quota: string;
  readonly quotaPerSecond: number | null;
  readonly maxConcurrent: number | null;
  /** cloneLimiter() clones counted with this limiter. */
  readonly clones: number;
  readonly grants: { readonly total: number; readonly lastWindow: number; readonly perSecond: number };
  readonly refusals: { readonly total: number; readonly lastWindow: number };
  readonly timeouts: { readonly total: number; readonly lastWindow: number };
  readonly cancellations: number;
  /** Units the limiter's own key could grant now (null: the store could not say). */
  readonly remaining: number | null;
  readonly inFlight: number;
  readonly waiting: number;
  /** 99th percentile of the waits of the window's grants, from the histogram (null: no grant). */
  readonly waitP99Ms: number | null;
  readonly fallback: boolean;
  readonly storeErrors: number;
  /** Grants per second, oldest first, one value per second of the history. */
  readonly history: number[];
  /** The busiest keys now (waiting + in flight). */
  readonly keys: KeyStatus[];
}

export interface KeyStatus {
  readonly id: string;
  readonly waiting: number;
  readonly inFlight: number;
  readonly remaining: number | null;
}

export interface BridgeStatus {
  readonly id: string;
  readonly list: string;
  readonly exclusive: boolean;
  readonly stats: ReturnType<CeleryBridge['stats']>;
  /** The other coordinators (hosts) serving the same namespace. */
  readonly others: PresenceRecord[];
}

export interface ReportSource {
  readonly coordinator: Coordinator;
  readonly history: History;
  readonly bridge?: CeleryBridge | undefined;
  readonly config: string;
  readonly startedAt: number;
}

export interface ReportOptions {
  /** Busiest keys per limiter. @default 5 */
  keys?: number;
  /** Length of the last window, seconds. @default 60 */
  windowSeconds?: number;
  /** Seconds of grants-per-second history. @default 300 */
  historySeconds?: number;
}

export async function buildReport(source: ReportSource, options: ReportOptions = {}): Promise<StatusReport> {
  const c = source.coordinator;
  const keysWanted = options.keys ?? 5;
  const snapshot = c.snapshot({ keys: keysWanted });
  const now = countsOf(snapshot);
  const window = options.windowSeconds ?? 60;
  const old = source.history.before(snapshot.at, window);
  const recent = source.history.before(snapshot.at, 5);
  const windowSeconds = Math.max(0, Math.round((snapshot.at - (old?.at ?? snapshot.at)) / 1000));
  const byRoot = new Map<string, LimiterSnapshot[]>();
  for (const l of snapshot.limiters) byRoot.set(l.root, [...(byRoot.get(l.root) ?? []), l]);
  const limiters = await Promise.all(
    aggregate(snapshot.limiters, 'root').map(async (s): Promise<LimiterStatus> => {
      const members = byRoot.get(s.limiter) ?? [];
      const cur = countsIn(now, s.limiter);
      const then = countsIn(old, s.limiter);
      const before = countsIn(recent, s.limiter);
      const dt = (snapshot.at - (recent?.at ?? snapshot.at)) / 1000;
      const keys = members.flatMap((m) => m.keys.map((k) => ({ ...k, limiter: m.id })));
      keys.sort((a, b) => b.waiting + b.inFlight - (a.waiting + a.inFlight));
      const p99 = waitQuantileMs(cur.waitCounts.map((n, i) => n - (then.waitCounts[i] ?? 0)), 0.99);
      return {
        id: s.limiter,
        store: s.config.store,
        algorithm: s.config.algorithm,
        quota: quotaText(s.config),
        quotaPerSecond: quotaPerSecond(s.config) ?? null,
        maxConcurrent: s.config.maxConcurrent ?? null,
        clones: members.length - 1,
        grants: { total: cur.grants, lastWindow: cur.grants - then.grants, perSecond: dt > 0 ? (cur.grants - before.grants) / dt : 0 },
        refusals: { total: cur.refusals, lastWindow: cur.refusals - then.refusals },
        timeouts: { total: cur.timeouts, lastWindow: cur.timeouts - then.timeouts },
        cancellations: s.metrics.cancellations,
        remaining: await remaining(c, s.limiter, s.limiter),
        inFlight: s.metrics.inFlight,
        waiting: s.metrics.waiting,
        waitP99Ms: Number.isNaN(p99) ? null : p99,
        fallback: s.fallback,
        storeErrors: s.metrics.storeErrors,
        history: source.history.grantsPerSecond(s.limiter, options.historySeconds ?? 300),
        keys: await Promise.all(
          keys.slice(0, keysWanted).map(async (k) => ({ id: k.id, waiting: k.waiting, inFlight: k.inFlight, remaining: await remaining(c, k.limiter, k.id) })),
        ),
      };
    }),
  );
  const b = source.bridge;
  return {
    version: 1,
    at: snapshot.at,
    coordinator: { pid: process.pid, version: VERSION, config: source.config, startedAt: source.startedAt },
    windowSeconds,
    limiters,
    clients: snapshot.clients,
    stores: snapshot.stores,
    bridge: b === undefined ? null : { id: b.id, list: b.keys.requests, exclusive: b.exclusive, stats: b.stats(), others: b.others() },
  };
}

export function quotaText(l: LimiterConfig): string {
  const parts: string[] = [];
  if (l.limit !== undefined) parts.push(`${l.limit} per ${l.windowSeconds} s`);
  else if (l.ratePerSecond !== undefined) parts.push(`${l.ratePerSecond}/s, burst ${l.burst ?? 1}`);
  if (l.maxConcurrent !== undefined) parts.push(`${l.maxConcurrent} at once`);
  return parts.join(', ');
}

/** What the store says the key could grant now; null when it cannot say (unreachable, fail_closed). */
async function remaining(c: Coordinator, limiter: string, id: string): Promise<number | null> {
  try {
    const state = await (id === limiter ? c.state(limiter) : c.state(limiter, id.slice(limiter.length + 1)));
    return state.remaining;
  } catch {
    return null;
  }
}
