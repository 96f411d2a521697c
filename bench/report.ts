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
