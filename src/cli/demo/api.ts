/**
 * A simulated third-party API that enforces its own quota, independently of rate-sync: it keeps
 * the instant of every request it received and, at the end, counts the requests its quota would
 * have answered with a 429.
 *
 * The instant of a request is its permit's grant instant: the demo runs time ×speed, which would
 * turn the event loop's few milliseconds between grant and call into seconds of simulated jitter,
 * and the grant instants are what rate-sync promises to keep within the quota.
 */
import type { LimiterConfig } from '../../config/types.js';

export interface Audit {
  /** Requests the API would have refused (429). */
  readonly rejected: number;
  /** The most requests seen in one quota window (a token bucket's: one second). */
  readonly peak: number;
  /** What the quota allows in one such window: `limit`, or `burst + rate`. */
  readonly allowed: number;
  /** `window` or `second`. */
  readonly per: string;
}

export class SimulatedApi {
  readonly #sent: number[] = [];
  readonly quota: LimiterConfig;
  readonly #speed: number;

  /** `quota` in real time, as in the configuration file; the API applies it ×speed. */
  constructor(quota: LimiterConfig, speed: number) {
    this.quota = quota;
    this.#speed = speed;
  }

  get calls(): number {
    return this.#sent.length;
  }

  receive(grantedAt: number): void {
    this.#sent.push(grantedAt);
  }

  /** Request instants, sorted, in ms since `origin`. */
  sent(origin: number): number[] {
    return this.#sent.map((t) => t - origin).sort((a, b) => a - b);
  }

  get sliding(): boolean {
    return this.quota.limit !== undefined && this.quota.windowSeconds !== undefined;
  }

  /** The quota's window in real (scaled) ms: `window_seconds`, or one second for a token bucket. */
  get windowMs(): number {
    return ((this.sliding ? (this.quota.windowSeconds as number) : 1) * 1000) / this.#speed;
  }

  get allowed(): number {
    return this.sliding ? (this.quota.limit as number) : (this.quota.burst ?? 1) + (this.quota.ratePerSecond as number);
  }

  /**
   * For each request, how many requests the API saw in the quota window that ends with it
   * (`[t - window, t]`, the request included): the quota in use at that instant.
   */
  windowCounts(sent: number[]): number[] {
    const counts: number[] = [];
    for (let i = 0, j = 0; j < sent.length; j++) {
      while ((sent[i] as number) + this.windowMs <= (sent[j] as number)) i++;
      counts.push(j - i + 1);
    }
    return counts;
  }

  audit(): Audit {
    // Relative to the first request: epoch-scale doubles would round every sum below.
    const sent = this.sent(this.#sent.reduce((a, b) => Math.min(a, b), Infinity));
    const counts = this.windowCounts(sent);
    const peak = counts.reduce((a, b) => Math.max(a, b), 0);
    const per = this.sliding ? 'window' : 'second';
    if (this.sliding) return { rejected: counts.filter((c) => c > this.allowed).length, peak, allowed: this.allowed, per };
    // A token bucket of `burst` tokens refilled at the (scaled) rate: one token per request.
    const intervalMs = 1000 / ((this.quota.ratePerSecond as number) * this.#speed);
    const burst = this.quota.burst ?? 1;
    let tat = -Infinity;
    let rejected = 0;
    for (const t of sent) {
      // Stamps were epoch ms, resolved by a double to ~0.25 µs: hence the 1 µs slack.
      if (Math.max(tat, t) + intervalMs - burst * intervalMs > t + 1e-3) rejected++;
      else tat = Math.max(tat, t) + intervalMs;
    }
    return { rejected, peak, allowed: this.allowed, per };
  }
}
