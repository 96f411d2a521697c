/**
 * The demo's report as one self-contained HTML file (inline SVG, no script, no network): the
 * table, and per limiter two charts — grants over time, and the quota in use against the limit.
 */
import { writeFileSync } from 'node:fs';
import { seconds, summaryLines, tableRows, type DemoReport, type LaneReport } from './report.js';

const W = 460;
const H = 170;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

const escape = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

function axes(max: number, bucketS: number, buckets: number): string {
  const y = (v: number): number => PAD.top + (H - PAD.top - PAD.bottom) * (1 - v / max);
  const ticks = [0, max / 2, max].map(
    (v) => `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}" class="grid"/>` +
      `<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v)}</text>`,
  );
  const total = bucketS * buckets;
  const xTicks = [0, 0.5, 1].map((f) => {
    const x = PAD.left + f * (W - PAD.left - PAD.right);
    return `<text x="${x}" y="${H - 8}" text-anchor="${['start', 'middle', 'end'][f * 2]}">${escape(seconds(f * total).replace(/^0 s$/, '0'))}</text>`;
  });
  return ticks.join('') + xTicks.join('');
}

function barsChart(lane: LaneReport, bucketS: number): string {
  const max = Math.max(1, ...lane.grants);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const bw = plotW / lane.grants.length;
  const bars = lane.grants
    .map((g, k) => {
      const h = (plotH * g) / max;
      return `<rect x="${(PAD.left + k * bw + 0.5).toFixed(1)}" y="${(PAD.top + plotH - h).toFixed(1)}" width="${Math.max(0.5, bw - 1).toFixed(1)}" height="${h.toFixed(1)}" class="bar"/>`;
    })
    .join('');
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${lane.name} grants over time">${axes(max, bucketS, lane.grants.length)}${bars}</svg>`;
}

function quotaChart(lane: LaneReport, bucketS: number): string {
  const allowed = lane.audit.allowed;
  const max = Math.max(allowed, ...lane.inWindow) * 1.1;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (k: number): number => PAD.left + ((k + 1) * plotW) / lane.inWindow.length;
  const y = (v: number): number => PAD.top + plotH * (1 - v / max);
  const points = [`${PAD.left},${y(0)}`, ...lane.inWindow.map((v, k) => `${x(k).toFixed(1)},${y(v).toFixed(1)}`)].join(' ');
  return (
    `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${lane.name} quota in use">${axes(max, bucketS, lane.inWindow.length)}` +
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(allowed)}" y2="${y(allowed)}" class="limit"/>` +
    `<text x="${W - PAD.right}" y="${y(allowed) - 4}" text-anchor="end" class="limit-label">quota ${allowed}</text>` +
    `<polyline points="${points}" class="used"/></svg>`
  );
}

export function renderHtml(report: DemoReport): string {
  const [header, ...rows] = tableRows(report);
  const table =
    `<table><thead><tr>${(header ?? []).map((h) => `<th>${escape(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${escape(c)}</td>`).join('')}</tr>`).join('') +
    '</tbody></table>';
  const panels = report.lanes
    .map((lane) => {
      const per = lane.audit.per === 'second' ? 'one second' : 'one window';
      return (
        `<section><h2>${lane.name} <small>${escape(lane.quota)} · ${escape(lane.pattern)}</small></h2><div class="charts">` +
        `<figure>${barsChart(lane, report.bucketS)}<figcaption>Grants per ${escape(seconds(report.bucketS))} (simulated time)</figcaption></figure>` +
        `<figure>${quotaChart(lane, report.bucketS)}<figcaption>Most requests the API saw in ${per}, against the quota</figcaption></figure>` +
        '</div></section>'
      );
    })
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rate-sync demo report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1000px;padding:0 1rem;color:#1d2430}
h1{font-size:1.4rem}h2{font-size:1.05rem;margin:1.6rem 0 .4rem}h2 small{font-weight:normal;color:#5b6575}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #dde2ea}
th{background:#f3f5f8}.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0;flex:1 1 440px}
figcaption{color:#5b6575;font-size:12px}svg{width:100%;height:auto}svg text{font-size:11px;fill:#5b6575}
.grid{stroke:#e6e9ef}.bar{fill:#4a7bd0}.used{fill:none;stroke:#1f9d74;stroke-width:2}
.limit{stroke:#d0453a;stroke-dasharray:5 4;stroke-width:1.5}.limit-label{fill:#d0453a}.ok{color:#1f9d74}.bad{color:#d0453a}
</style></head><body>
<h1>rate-sync demo: ${report.jobs} jobs, time ×${report.speed}</h1>
<p>Quotas from <code>${escape(report.source)}</code>, on the memory store; a piscina pool and cluster forks share them through the primary's coordinator.</p>
${table}
${summaryLines(report)
  .map((line, i, all) => `<p${i === all.length - 1 ? ` class="${line.startsWith('The APIs') ? 'ok' : 'bad'}"` : ''}>${escape(line)}</p>`)
  .join('\n')}
${panels}
<p><small>Times are simulated (as they would be at the real quotas). Waits are measured at the coordinator. Busiest: the most requests an API saw in one window (one second for a token bucket). Quota used: grants against the most the quota allows between the first grant and the last (burst + rate·T, or limit·(T/window + 1)). Generated ${escape(new Date().toISOString())}.</small></p>
</body></html>
`;
}

export function writeHtmlReport(path: string, report: DemoReport): void {
  writeFileSync(path, renderHtml(report));
}
