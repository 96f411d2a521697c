/**
 * Redis's clock, as seen from the coordinator. Bridge requests are stamped with Redis `TIME`
 * when pushed; to know how long one waited in the list, the coordinator needs Redis's time now
 * without a round trip per request. It samples `TIME`, keeps the offset to its own monotonic
 * clock from the sample with the shortest round trip (the error is at most half of it), and
 * resamples regularly so drift and clock steps on the Redis host are followed.
 */
import type { Clock } from '../clock.js';

interface Sample {
  readonly offsetMs: number;
  readonly rttMs: number;
}

/** Samples kept: with one sample every 2 s, the best of the last 10 s. */
const KEEP = 5;

export class RedisClock {
  readonly #clock: Clock;
  readonly #time: () => Promise<readonly (string | number)[]>;
  #samples: Sample[] = [];

  constructor(clock: Clock, time: () => Promise<readonly (string | number)[]>) {
    this.#clock = clock;
    this.#time = time;
  }

  /** Takes `count` samples. */
  async sync(count = 1): Promise<void> {
    for (let i = 0; i < count; i++) {
      const t0 = this.#clock.now();
      const [seconds, micros] = await this.#time();
      const t1 = this.#clock.now();
      const redisMs = Number(seconds) * 1000 + Number(micros) / 1000;
      this.#samples.push({ offsetMs: redisMs - (t0 + t1) / 2, rttMs: t1 - t0 });
      if (this.#samples.length > KEEP) this.#samples.shift();
    }
  }

  get synced(): boolean {
    return this.#samples.length > 0;
  }

  /** Largest error of `nowMs()`, in ms: half the round trip of the sample in use. */
  get errorMs(): number {
    return this.#best().rttMs / 2;
  }

  /** Redis's time now, epoch milliseconds (estimate). */
  nowMs(): number {
    return this.#clock.now() + this.#best().offsetMs;
  }

  #best(): Sample {
    let best: Sample | undefined;
    for (const s of this.#samples) if (best === undefined || s.rttMs < best.rttMs) best = s;
    if (best === undefined) throw new Error('RedisClock used before its first sync()');
    return best;
  }
}
