/**
 * Wording of configuration issues: how a found value is shown, and the "did you mean" of an
 * unknown key.
 */
import type { ConfigIssue } from '../errors.js';
import { isTable, type Expansion } from './env.js';

/** An unknown key, with the nearest valid one when it is probably a typo. */
export function unknownKeyIssue(path: string, unknown: string, valid: readonly string[], noun: string): ConfigIssue {
  const hint = nearest(unknown, valid);
  return {
    path,
    expected: valid.length === 1 ? `no ${noun} other than ${valid[0]}` : `one of the ${noun}s: ${valid.join(', ')}`,
    found: `unknown ${noun} ${JSON.stringify(unknown)}${hint === undefined ? '' : `; did you mean ${JSON.stringify(hint)}?`}`,
  };
}

function nearest(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');
  const w = norm(word);
  let best: { key: string; distance: number } | undefined;
  for (const key of candidates) {
    const c = norm(key);
    const distance = w.length >= 3 && c.startsWith(w) ? 0 : editDistance(w, c);
    if (best === undefined || distance < best.distance) best = { key, distance };
  }
  return best !== undefined && best.distance <= Math.max(1, Math.floor(w.length / 4)) ? best.key : undefined;
}

/** Levenshtein distance where swapping two adjacent letters counts as one edit. */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, (before[j - 2] ?? 0) + 1);
      row.push(v);
    }
    [before, previous] = [previous, row];
  }
  return previous[b.length] ?? 0;
}

/** A value as the user wrote it, with its type: `-1 (number)`, `"leaky" (string)`, `nothing`. */
export function describe(value: unknown, expansion?: Expansion): string {
  const from = expansion === undefined ? '' : `, expanded from ${JSON.stringify(expansion.raw)}`;
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `${JSON.stringify(value)} (string${from})`;
  if (typeof value === 'number') {
    const text = Number.isNaN(value) ? 'nan' : value === Infinity ? 'inf' : value === -Infinity ? '-inf' : String(value);
    return `${text} (number${from})`;
  }
  if (typeof value === 'boolean') return `${value} (boolean${from})`;
  if (value instanceof Date) return `${value.toISOString()} (date)`;
  if (Array.isArray(value)) return 'an array';
  if (isTable(value)) return 'a table';
  return value === null ? 'null' : `a ${typeof value}`;
}
