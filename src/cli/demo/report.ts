/**
 * The demo's closing report: per limiter, what the coordinator granted, how long callers waited,
 * what was refused, the rate achieved against the quota, and what each simulated API saw — as a
 * table and charts for the terminal (asciichart), and as data for the HTML file (html.ts).
 */
import asciichart from 'asciichart';
import type { LimiterConfig } from '../../config/types.js';
import type { LimiterMetrics } from '../../coordinator/stats.js';
import type { Audit, SimulatedApi } from './api.js';
import type { ApiName } from './job.js';

/** Buckets of the charts, over the whole run. */
const BUCKETS = 60;

export interface LaneReport {
  readonly name: ApiName;
  readonly pattern: string;
  /** The quota as configured (real time). */
  readonly quota: string;
  readonly granted: number;
  readonly refused: number;
  /** Time granted requests waited at the coordinator, in simulated seconds. */
  readonly avgWaitS: number;
  readonly maxWaitS: number;
  /** The most requests waiting at once (sampled). */
  readonly peakWaiting: number;
  /**
   * Grants as a share of the most the quota allows over the run (from the first grant to the
   * last): `burst + rate·T` for a token bucket, `limit·(T/window + 1)` for a sliding window.
   */
  readonly quotaUsed: number;
  readonly audit: Audit;
  /** Per bucket: grants, and the most requests the API saw in one quota window ending in it. */
  readonly grants: number[];
  readonly inWindow: number[];
}

export interface DemoReport {
  readonly source: string;
  readonly jobs: number;
  readonly speed: number;
  readonly elapsedS: number;
  readonly skipped: number;
  readonly requeued: number;
  /** Jobs finished by each thread and process. */
  readonly workers: ReadonlyMap<string, number>;
  /** Simulated seconds per chart bucket. */
  readonly bucketS: number;
  readonly lanes: readonly LaneReport[];
}

export function describeQuota(c: LimiterConfig): string {
  return c.algorithm === 'sliding_window' ? `${c.limit} / ${c.windowSeconds} s` : `${c.ratePerSecond}/s, burst ${c.burst ?? 1}`;
}

/** Number of `sent` (sorted) in `(t - windowMs, t]`. */
function inWindowAt(sent: number[], t: number, windowMs: number): number {
  const upper = (x: number): number => {
    let lo = 0;
    let hi = sent.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((sent[mid] as number) <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return upper(t) - upper(t - windowMs);
}

export interface LaneInput {
  readonly name: ApiName;
  readonly pattern: string;
  readonly api: SimulatedApi;
  /** The coordinator's counters of the limiter (host-wide: every thread and fork). */
  readonly metrics: LimiterMetrics;
  readonly peakWaiting: number;
}

export function buildLanes(inputs: readonly LaneInput[], speed: number): { lanes: LaneReport[]; bucketS: number } {
  const origin = Math.min(...inputs.flatMap((l) => l.api.sent(0).slice(0, 1)));
  const sents = inputs.map((l) => l.api.sent(origin));
  const spanMs = Math.max(1, ...sents.map((s) => s.at(-1) ?? 0));
  const bucketMs = spanMs / BUCKETS;
  const lanes = inputs.map((input, i): LaneReport => {
    const sent = sents[i] as number[];
    const { api } = input;
    const counts = api.windowCounts(sent);
    const grants = new Array<number>(BUCKETS).fill(0);
    const inWindow = new Array<number>(BUCKETS).fill(0);
    sent.forEach((t, j) => {
      const k = Math.min(BUCKETS - 1, Math.floor(t / bucketMs));
      grants[k] = (grants[k] as number) + 1;
      inWindow[k] = Math.max(inWindow[k] as number, counts[j] as number);
    });
    for (let k = 0; k < BUCKETS; k++) inWindow[k] = Math.max(inWindow[k] as number, inWindowAt(sent, (k + 1) * bucketMs, api.windowMs));
    const spanS = ((sent.at(-1) ?? 0) - (sent[0] ?? 0)) * (speed / 1000);
    const q = api.quota;
    const mostAllowed = api.sliding
      ? (q.limit as number) * (spanS / (q.windowSeconds as number) + 1)
      : (q.burst ?? 1) + (q.ratePerSecond as number) * spanS;
    return {
      name: input.name,
      pattern: input.pattern,
      quota: describeQuota(api.quota),
      granted: sent.length,
      refused: input.metrics.timeouts,
      avgWaitS: (input.metrics.avgWaitMs * speed) / 1000,
      maxWaitS: (input.metrics.maxWaitMs * speed) / 1000,
      peakWaiting: input.peakWaiting,
      quotaUsed: sent.length / mostAllowed,
      audit: api.audit(),
      grants,
      inWindow,
    };
  });
  return { lanes, bucketS: (bucketMs * speed) / 1000 };
}

export function seconds(s: number): string {
  if (s < 0.1) return '0 s';
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 120) return `${s.toFixed(0)} s`;
  return `${(s / 60).toFixed(1)} min`;
}

/** The report's table rows (terminal and HTML alike). */
export function tableRows(report: DemoReport): string[][] {
  const header = ['limiter', 'quota', 'pattern', 'granted', 'refused', 'avg wait', 'max wait', 'most waiting', 'busiest (of quota)', 'quota used', 'API 429s'];
  const rows = report.lanes.map((l) => [
    l.name,
    l.quota,
    l.pattern,
    String(l.granted),
    String(l.refused),
    seconds(l.avgWaitS),
    seconds(l.maxWaitS),
    String(l.peakWaiting),
    `${l.audit.peak} of ${l.audit.allowed} per ${l.audit.per}`,
    `${(l.quotaUsed * 100).toFixed(l.quotaUsed < 0.1 ? 1 : 0)}%`,
    String(l.audit.rejected),
  ]);
  return [header, ...rows];
}

export function violations(report: DemoReport): number {
  return report.lanes.reduce((n, l) => n + l.audit.rejected, 0);
}

export function summaryLines(report: DemoReport): string[] {
  const workers = [...report.workers].map(([w, n]) => `${w}: ${n}`).join(', ');
  const v = violations(report);
  return [
    `${report.jobs} jobs done, ${report.skipped} summaries skipped, ${report.requeued} requeues, in ${report.elapsedS.toFixed(1)} s ` +
      `(${((report.elapsedS * report.speed) / 60).toFixed(1)} simulated minutes).`,
    `Jobs per worker — ${workers}.`,
    v === 0 ? 'The APIs answered every request: no quota was exceeded.' : `${v} requests were over quota!`,
  ];
}

const BLOCKS = ' ▁▂▃▄▅▆▇█';

/** A one-line chart: one block per bucket, its height proportional to the value. */
function sparkline(values: readonly number[]): string {
  const max = Math.max(1, ...values);
  return values.map((v) => BLOCKS[v === 0 ? 0 : Math.max(1, Math.round((v / max) * (BLOCKS.length - 1)))]).join('');
}

export function renderTerminal(report: DemoReport, color: boolean): string[] {
  const rows = tableRows(report);
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  const lines = rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd());
  lines.push(
    '',
    'Times are simulated (as they would be at the real quotas). Waits are at the coordinator; busiest: the most',
    'requests an API saw in one window (one second for a token bucket); quota used: grants against the most the',
    'quota allows between the first grant and the last (burst + rate·T, or limit·(T/window + 1)).',
    '',
  );
  for (const lane of report.lanes) {
    const per = lane.audit.per === 'second' ? 'one second' : 'one window';
    lines.push(`${lane.name}: the most requests in ${per}, against the quota's ${lane.audit.allowed} (top line), in steps of ${seconds(report.bucketS)}`);
    const plot = asciichart.plot([lane.inWindow.map(() => lane.audit.allowed), lane.inWindow], {
      height: 5,
      min: 0,
      max: Math.max(lane.audit.allowed, ...lane.inWindow),
      format: (x: number) => String(Math.round(x)).padStart(6),
      ...(color ? { colors: [asciichart.red, asciichart.cyan] } : {}),
    });
    lines.push(plot, `${'grants'.padStart(6)}  ${sparkline(lane.grants)}  (grants per step, at most ${Math.max(...lane.grants)})`, '');
  }
  return lines;
}
