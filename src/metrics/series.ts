/**
 * One metric series per configured limiter: cloneLimiter() clones are added to the limiter they
 * come from (unless asked otherwise), so the number of series is bounded by the configuration.
 */
import type { LimiterConfig } from '../config/types.js';
import type { LimiterSnapshot } from '../coordinator/snapshot.js';
import type { LimiterMetrics } from '../coordinator/stats.js';

export interface LimiterSeries {
  readonly limiter: string;
  /** The configuration of the series' own limiter (the root's when clones are aggregated). */
  readonly config: LimiterConfig;
  readonly metrics: LimiterMetrics;
  readonly waitCounts: number[];
  readonly fallback: boolean;
  /** Sustained quota per second (rate_per_second, or limit / window_seconds); undefined for concurrency only. */
  readonly quotaPerSecond: number | undefined;
}

export function quotaPerSecond(config: LimiterConfig): number | undefined {
  if (config.ratePerSecond !== undefined) return config.ratePerSecond;
  if (config.limit !== undefined && config.windowSeconds !== undefined) return config.limit / config.windowSeconds;
  return undefined;
}

export function aggregate(limiters: readonly LimiterSnapshot[], clones: 'root' | 'own'): LimiterSeries[] {
  const out = new Map<string, { -readonly [K in keyof LimiterSeries]: LimiterSeries[K] }>();
  // Roots first, so a series carries its root's configuration.
  const ordered = [...limiters].sort((a, b) => Number(a.id !== a.root) - Number(b.id !== b.root));
  for (const l of ordered) {
    const label = clones === 'root' ? l.root : l.id;
    const s = out.get(label);
    if (s === undefined) {
      out.set(label, {
        limiter: label,
        config: l.config,
        metrics: { ...l.metrics },
        waitCounts: [...l.waitCounts],
        fallback: l.fallback,
        quotaPerSecond: quotaPerSecond(l.config),
      });
      continue;
    }
    const m = s.metrics;
    for (const k of Object.keys(m) as (keyof LimiterMetrics)[]) if (k !== 'maxWaitMs' && k !== 'avgWaitMs') m[k] += l.metrics[k];
    m.maxWaitMs = Math.max(m.maxWaitMs, l.metrics.maxWaitMs);
    m.avgWaitMs = m.acquisitions === 0 ? 0 : m.totalWaitMs / m.acquisitions;
    l.waitCounts.forEach((n, i) => (s.waitCounts[i] = (s.waitCounts[i] ?? 0) + n));
    s.fallback ||= l.fallback;
  }
  return [...out.values()];
}
