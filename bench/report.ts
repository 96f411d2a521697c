/** Plain-text tables for the benchmark scripts. */

export function ratio(a: number, b: number): string {
  return b === 0 ? '-' : `${(a / b).toFixed(2)}×`;
}

export function printTable(title: string, rows: string[][]): void {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  console.log(`\n${title}`);
  rows.forEach((row, n) => {
    console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
    if (n === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  });
}

/** The most instants in any half-open window [s, s + windowMs) of sorted instants. */
export function busiestWindow(sorted: readonly number[], windowMs: number): number {
  let peak = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while ((sorted[i] as number) <= (sorted[j] as number) - windowMs) i++;
    peak = Math.max(peak, j - i + 1);
  }
  return peak;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}
