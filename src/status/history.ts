/**
 * The recent past of a coordinator's counters: one sample per second, kept for a few minutes,
 * so the status report can say what happened in the last minute (grants, refusals, timeouts,
 * p99 wait) and the page can chart grants per second. Sampling reads the counters once a
 * second; the coordinator's hot path knows nothing of it.
 */
import type { CoordinatorSnapshot } from '../coordinator/snapshot.js';
import { aggregate } from '../metrics/series.js';

/** Cumulative counters of one limiter series at one instant. */
export interface Counts {
  readonly grants: number;
  readonly refusals: number;
  readonly timeouts: number;
  readonly waitCounts: readonly number[];
}

export interface Sample {
  /** Epoch ms. */
  readonly at: number;
  readonly limiters: ReadonlyMap<string, Counts>;
}

export function countsOf(snapshot: CoordinatorSnapshot): Sample {
  const limiters = new Map<string, Counts>();
  for (const s of aggregate(snapshot.limiters, 'root')) {
    limiters.set(s.limiter, {
      grants: s.metrics.acquisitions,
      refusals: s.metrics.refusals,
      timeouts: s.metrics.timeouts - s.metrics.refusals,
      waitCounts: s.waitCounts,
    });
  }
  return { at: snapshot.at, limiters };
}

const NONE: Counts = { grants: 0, refusals: 0, timeouts: 0, waitCounts: [] };

export class History {
  readonly #take: () => Sample;
  readonly #keep: number;
  readonly #samples: Sample[] = [];
  #timer: NodeJS.Timeout | undefined;

  /** Keeps `seconds` seconds of samples taken by `take`, one per second once started. */
  constructor(take: () => Sample, seconds = 300) {
    this.#take = take;
    this.#keep = seconds + 1;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.sample();
    this.#timer = setInterval(() => this.sample(), 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes one sample now (the timer calls it every second). */
  sample(): void {
    try {
      this.#samples.push(this.#take());
    } catch {
      // A coordinator that was shut down has nothing more to say.
      return;
    }
    if (this.#samples.length > this.#keep) this.#samples.shift();
  }

  /** The newest sample at least `seconds` older than `at` (else the oldest one). */
  before(at: number, seconds: number): Sample | undefined {
    let found = this.#samples[0];
    for (const s of this.#samples) {
      if (s.at > at - seconds * 1000) break;
      found = s;
    }
    return found;
  }

  /** Grants per second of `limiter` over the last `seconds` seconds, oldest first (0 before sampling began). */
  grantsPerSecond(limiter: string, seconds: number): number[] {
    const out = new Array<number>(seconds).fill(0);
    const samples = this.#samples;
    for (let i = 1; i < samples.length; i++) {
      const slot = seconds - (samples.length - i);
      if (slot < 0) continue;
      const now = samples[i]?.limiters.get(limiter) ?? NONE;
      const prev = samples[i - 1]?.limiters.get(limiter) ?? NONE;
      const dt = ((samples[i]?.at ?? 0) - (samples[i - 1]?.at ?? 0)) / 1000;
      out[slot] = dt > 0 ? Math.max(0, now.grants - prev.grants) / dt : 0;
    }
    return out;
  }
}

export function countsIn(sample: Sample | undefined, limiter: string): Counts {
  return sample?.limiters.get(limiter) ?? NONE;
}
