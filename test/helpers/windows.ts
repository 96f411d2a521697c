/** Checks of grant instants against a limit, exact up to float rounding. */

/**
 * The largest excess of grants over `burst + ratePerMs·(t_j − t_i)` in any closed interval
 * [t_i, t_j] of the sorted instants; ≤ 0 when the token-bucket bound holds everywhere.
 */
export function worstBucketExcess(sorted: readonly number[], ratePerMs: number, burst: number): number {
  let worst = -Infinity;
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i; j < sorted.length; j++) {
      const excess = j - i + 1 - (burst + ratePerMs * ((sorted[j] as number) - (sorted[i] as number)));
      if (excess > worst) worst = excess;
    }
  }
  return worst;
}

/** The most instants in any half-open window [s, s + windowMs). */
export function busiestWindow(sorted: readonly number[], windowMs: number): number {
  let peak = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while ((sorted[i] as number) <= (sorted[j] as number) - windowMs) i++;
    peak = Math.max(peak, j - i + 1);
  }
  return peak;
}

/** The most intervals that overlap at one instant, each shrunk by `slackMs` at both ends. */
export function maxOverlap(intervals: readonly (readonly [number, number])[], slackMs = 0): number {
  const events: [number, number][] = [];
  for (const [start, end] of intervals) {
    if (end - start <= 2 * slackMs) continue;
    events.push([start + slackMs, 1], [end - slackMs, -1]);
  }
  // At equal instants an end comes before a start: a slot handed over is not two holders.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, delta] of events) {
    now += delta;
    peak = Math.max(peak, now);
  }
  return peak;
}
