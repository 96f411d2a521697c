/**
 * `ratesync status [--watch] [--json]`: asks a running `ratesync serve` for its status report
 * (`GET <url>/status.json` on its metrics port, 127.0.0.1:9477 unless told otherwise) and prints
 * it as a table, as JSON, or redrawn every second. Returns the exit code.
 */
import type { LimiterStatus, StatusReport } from '../status/report.js';

export interface StatusIo {
  /** The metrics port of the serve process, e.g. `http://127.0.0.1:9477`. */
  readonly url: string;
  readonly json: boolean;
  readonly watch: boolean;
  /** Busiest keys per limiter. */
  readonly keys: number;
  /** Raw output (frames, with their own line ends). */
  readonly out: (s: string) => void;
  readonly err: (line: string) => void;
  /** Redraw in place (a terminal) rather than one frame after another. */
  readonly tty: boolean;
  /** Ends --watch (tests); otherwise it runs until the process is interrupted. */
  readonly signal?: AbortSignal;
}

const TIMEOUT_MS = 3000;

export async function statusCommand(io: StatusIo): Promise<number> {
  const base = normalize(io.url);
  if (!io.watch) {
    try {
      const report = await fetchReport(base, io.keys);
      io.out(io.json ? `${JSON.stringify(report, null, 2)}\n` : `${render(report, base)}\n`);
      return 0;
    } catch (err) {
      io.err(`ratesync status: ${(err as Error).message}`);
      return 1;
    }
  }
  while (io.signal?.aborted !== true) {
    let frame: string;
    try {
      const report = await fetchReport(base, io.keys);
      frame = io.json ? JSON.stringify(report) : render(report, base);
    } catch (err) {
      // Watching goes on: the coordinator may be restarting.
      frame = io.json ? JSON.stringify({ error: (err as Error).message }) : `ratesync status: ${(err as Error).message}`;
    }
    io.out(io.tty && !io.json ? `\x1b[H\x1b[2J${frame}\n` : `${frame}\n${io.json ? '' : '\n'}`);
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 1000);
      io.signal?.addEventListener('abort', () => (clearTimeout(timer), resolve(undefined)), { once: true });
    });
  }
  return 0;
}

/** Accepts `http://host:port`, `host:port` or a bare port (on 127.0.0.1). */
export function normalize(url: string): string {
  const trimmed = url.trim().replace(/\/+$/, '');
  if (/^\d+$/.test(trimmed)) return `http://127.0.0.1:${trimmed}`;
  return /^[a-z]+:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
}

export async function fetchReport(base: string, keys: number): Promise<StatusReport> {
  const url = `${base}/status.json?keys=${keys}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    if ((err as Error).name === 'TimeoutError') throw new Error(`${base} did not answer within ${TIMEOUT_MS / 1000} s`);
    throw new Error(
      `no ratesync serve answers at ${base} (${cause?.code ?? (err as Error).message}). Start one with \`ratesync serve\`, ` +
        'or point --url (or RATE_SYNC_STATUS_URL) at its metrics port (serve --metrics-port).',
    );
  }
  const text = await res.text();
  let report: StatusReport | undefined;
  try {
    report = JSON.parse(text) as StatusReport;
  } catch {
    report = undefined;
  }
  if (!res.ok || report?.version !== 1) {
    throw new Error(`${url} answered HTTP ${res.status}${res.ok ? ' without a status report' : ''}: is this the metrics port of a ratesync serve?`);
  }
  return report;
}

const n = (v: number | null, digits = 0): string =>
  v === null ? '-' : v.toLocaleString('en-US', { maximumFractionDigits: digits, useGrouping: false });
const ms = (v: number | null): string => (v === null ? '-' : v < 1000 ? `${n(v, v < 10 ? 1 : 0)} ms` : `${n(v / 1000, 1)} s`);

export function render(r: StatusReport, base: string): string {
  const head =
    `ratesync status  ${base}  pid ${r.coordinator.pid}, rate-sync ${r.coordinator.version}, ${r.coordinator.config}\n` +
    `${new Date(r.at).toISOString()}, window ${r.windowSeconds} s`;
  const rows: string[][] = [
    ['limiter', 'quota', `grants/${r.windowSeconds}s`, 'rate/s', 'remaining', 'in flight', 'waiting', 'refusals', 'timeouts', 'p99 wait', 'fallback'],
  ];
  for (const l of r.limiters) {
    rows.push(limiterRow(l));
    for (const k of l.keys) rows.push([`  ${k.id}`, '', '', '', n(k.remaining, 2), n(k.inFlight), n(k.waiting), '', '', '', '']);
  }
  const kinds = new Map<string, number>();
  for (const c of r.clients) kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
  const lines = [head, '', ...(r.limiters.length === 0 ? ['(no limiters)'] : table(rows)), ''];
  lines.push(`clients: ${r.clients.length === 0 ? 'none' : [...kinds].map(([k, c]) => `${c} ${k}`).join(', ')}`);
  for (const s of r.stores) {
    if (s.status !== undefined) lines.push(`store ${s.id} (${s.engine}): ${s.status.mode}, ${s.status.outages} outages${s.status.lastError ? `, last error: ${s.status.lastError}` : ''}`);
  }
  if (r.bridge !== null) {
    const b = r.bridge;
    const others = b.others.map((o) => `pid ${o.pid} on ${o.host}`).join(', ');
    lines.push(
      `bridge ${b.list}: ${b.stats.sessions} Celery clients, ${b.stats.received} received, ${b.stats.rejected} garbage, ` +
        `${b.stats.conflicts} conflicts; other coordinators: ${others === '' ? 'none' : others}`,
    );
  }
  return lines.join('\n');
}

function limiterRow(l: LimiterStatus): string[] {
  return [
    l.id,
    l.quota === '' ? '-' : l.quota,
    n(l.grants.lastWindow),
    n(l.grants.perSecond, 1),
    n(l.remaining, 2),
    l.maxConcurrent === null ? n(l.inFlight) : `${l.inFlight}/${l.maxConcurrent}`,
    n(l.waiting),
    n(l.refusals.lastWindow),
    n(l.timeouts.lastWindow),
    ms(l.waitP99Ms),
    l.fallback ? 'YES' : 'no',
  ];
}

/** Columns two spaces apart: names left-aligned, figures right-aligned. */
function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ').trimEnd(),
  );
}
