/**
 * Sliding window as an exact log of grants: in any half-open window [s, s + W) at most `limit`
 * units are granted. A grant made at t stops counting at exactly t + W.
 *
 * The log is a FIFO of (time, units) pairs kept in two parallel arrays with a moving head, so
 * granting and expiring are O(1) amortised and memory is one pair per grant still in the window.
 */

export interface WindowParams {
  readonly limit: number;
  readonly windowMs: number;
}

export interface WindowLog {
  times: number[];
  units: number[];
  /** Index of the oldest live entry. */
  head: number;
  /** Units of the live entries. */
  total: number;
}

export function newWindowLog(): WindowLog {
  return { times: [], units: [], head: 0, total: 0 };
}

/** Forgets grants that no longer count at `now`. */
export function windowPrune(log: WindowLog, now: number, p: WindowParams): void {
  let head = log.head;
  // Same expression as windowReadyAt's answer, so "expired" and "ready" never disagree by rounding.
  while (head < log.times.length && (log.times[head] as number) + p.windowMs <= now) {
    log.total -= log.units[head] as number;
    head++;
  }
  if (head === log.times.length) {
    log.times.length = 0;
    log.units.length = 0;
    log.head = 0;
    return;
  }
  // Compact only when the dead prefix dominates, so each entry is moved O(1) times.
  if (head > 1024 && head * 2 > log.times.length) {
    log.times.splice(0, head);
    log.units.splice(0, head);
    head = 0;
  }
  log.head = head;
}

/** The earliest instant at which `cost` units fit in the window (call after windowPrune). */
export function windowReadyAt(log: WindowLog, now: number, cost: number, p: WindowParams): number {
  if (cost > p.limit) return Infinity;
  let excess = log.total + cost - p.limit;
  if (excess <= 0) return now;
  for (let i = log.head; i < log.times.length; i++) {
    excess -= log.units[i] as number;
    if (excess <= 0) return (log.times[i] as number) + p.windowMs;
  }
  return Infinity;
}

export function windowTake(log: WindowLog, now: number, cost: number): void {
  const last = log.times.length - 1;
  // Grants at the same instant share one entry: a burst costs one pair, not one per unit.
  if (last >= log.head && log.times[last] === now) {
    log.units[last] = (log.units[last] as number) + cost;
  } else {
    log.times.push(now);
    log.units.push(cost);
  }
  log.total += cost;
}

/** The instant at which the log is empty again (−∞ when it already is). */
export function windowIdleAt(log: WindowLog, p: WindowParams): number {
  const last = log.times.length - 1;
  return last >= log.head ? (log.times[last] as number) + p.windowMs : -Infinity;
}

/** The instant at which the oldest live grant stops counting (−∞ when none counts). */
export function windowNextExpiry(log: WindowLog, p: WindowParams): number {
  return log.head < log.times.length ? (log.times[log.head] as number) + p.windowMs : -Infinity;
}
