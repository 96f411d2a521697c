/**
 * Token bucket as GCRA (generic cell rate algorithm): the whole state is one number, the
 * theoretical arrival time (TAT) — the instant at which the bucket would be full again.
 *
 * With interval I = 1000 / rate (ms) and tolerance burst·I, a request of `cost` units at `now` is
 * allowed iff max(TAT, now) + cost·I − burst·I ≤ now. Then in any interval of length T at most
 * burst + rate·T units are granted, at any rate, fractional or not.
 */

export interface GcraParams {
  /** Milliseconds per unit: 1000 / rate_per_second. */
  readonly intervalMs: number;
  /** Units that may be granted at once from a full bucket (≥ 1). */
  readonly burst: number;
}

/**
 * Float slack so that an instant computed as "exactly due" is not refused by rounding: 100 ns,
 * far above a double's resolution at the clock's scale and far below anything physical.
 */
export const EPSILON_MS = 1e-4;

/** The earliest instant at which `cost` units can be granted (≤ now means: now). */
export function gcraReadyAt(tat: number | undefined, now: number, cost: number, p: GcraParams): number {
  if (cost > p.burst) return Infinity;
  if (tat === undefined || tat <= now) return now;
  return tat + (cost - p.burst) * p.intervalMs;
}

/** The state after granting `cost` units at `now` (call only when gcraReadyAt(...) ≤ now). */
export function gcraTake(tat: number | undefined, now: number, cost: number, p: GcraParams): number {
  const base = tat === undefined || tat < now ? now : tat;
  return base + cost * p.intervalMs;
}

/** Whole units available at `now`. */
export function gcraRemaining(tat: number | undefined, now: number, p: GcraParams): number {
  if (tat === undefined || tat <= now) return p.burst;
  const free = (now - (tat - p.burst * p.intervalMs)) / p.intervalMs;
  return Math.max(0, Math.min(p.burst, Math.floor(free + EPSILON_MS)));
}
