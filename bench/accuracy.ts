/**
 * Accuracy and throughput under saturation, in real time, side by side with the peers.
 *
 * 1. 200 permits/s, 32 concurrent waiters, 6 s: utilisation of `burst + rate·T` and the busiest
 *    1-second window (must never exceed `burst + rate`), for burst 1, burst 10 and a sliding
 *    window of 200 per second.
 * 2. Saturated at 50,000/s with 64 callers for 3 s: achieved rate and CPU per permit, against
 *    rate-limiter-flexible's RateLimiterQueue and bottleneck configured for the same rate.
 */
import Bottleneck from 'bottleneck';
import { RateLimiterMemory, RateLimiterQueue } from 'rate-limiter-flexible';
import { RateSync, type LimiterOptions } from '../src/index.js';
import { printTable, ratio } from './report.js';

/** Runs `callers` loops that each take permits back to back for `ms`; returns the grant instants. */
async function saturate(callers: number, ms: number, take: () => Promise<number>): Promise<number[]> {
  const stamps: number[] = [];
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < end) {
        const at = await take();
        if (at <= end) stamps.push(at);
      }
    }),
  );
  return stamps.sort((a, b) => a - b);
}

/** Most stamps in any window of `windowMs` (closed: both ends count). */
function busiest(stamps: number[], windowMs: number): number {
  let peak = 0;
  for (let i = 0, j = 0; j < stamps.length; j++) {
    while ((stamps[i] as number) < (stamps[j] as number) - windowMs) i++;
    peak = Math.max(peak, j - i + 1);
  }
  return peak;
}

const rs = new RateSync({ configFile: false });
const seconds = 6;
const cases: [string, LimiterOptions, number][] = [
  ['token bucket 200/s, burst 1', { ratePerSecond: 200, burst: 1 }, 1 + 200 * seconds],
  ['token bucket 200/s, burst 10', { ratePerSecond: 200, burst: 10 }, 10 + 200 * seconds],
  ['sliding window 200 per 1 s', { algorithm: 'sliding_window', limit: 200, windowSeconds: 1 }, 200 * seconds],
];
const accuracy: string[][] = [['limiter', 'granted', 'ideal', 'utilisation', 'busiest 1 s', 'allowed in 1 s']];
for (const [name, options, ideal] of cases) {
  const id = `acc${accuracy.length}`;
  rs.configureLimiter(id, { store: 'memory', ...options });
  const limiter = await rs.getLimiter(id);
  const offset = performance.timeOrigin;
  const stamps = await saturate(32, seconds * 1000, async () => (await limiter.acquire()).grantedAt - offset);
  const allowed = options.algorithm === 'sliding_window' ? (options.limit as number) : (options.burst as number) + 200;
  const peak = options.algorithm === 'sliding_window' ? busiest(stamps, 1000 - 1e-6) : busiest(stamps, 1000);
  accuracy.push([name, String(stamps.length), String(ideal), `${((100 * stamps.length) / ideal).toFixed(1)}%`, String(peak), String(allowed)]);
}
printTable(`accuracy: 32 callers saturating each limiter for ${seconds} s (grant instants from the coordinator)`, accuracy);

const rate = 50_000;
const ms = 3000;
async function measure(name: string, take: () => Promise<number>) {
  const cpu = process.cpuUsage();
  const stamps = await saturate(64, ms, take);
  const used = process.cpuUsage(cpu);
  return {
    name,
    perSecond: stamps.length / (ms / 1000),
    cpuUsPerPermit: (used.user + used.system) / stamps.length,
    busiest: busiest(stamps, 1000),
  };
}
rs.configureLimiter('saturated', { store: 'memory', ratePerSecond: rate, burst: 100 });
const ours = await rs.getLimiter('saturated');
const queue = new RateLimiterQueue(new RateLimiterMemory({ points: rate, duration: 1 }), { maxQueueSize: 1e9 });
const bottleneck = new Bottleneck({ reservoir: rate, reservoirRefreshAmount: rate, reservoirRefreshInterval: 1000 });
const results = [
  await measure('rate-sync acquire() (GCRA, burst 100)', async () => (await ours.acquire()).grantedAt - performance.timeOrigin),
  await measure('rate-limiter-flexible RateLimiterQueue', async () => {
    await queue.removeTokens(1);
    return performance.now();
  }),
  await measure('bottleneck schedule() (reservoir)', () => bottleneck.schedule(() => Promise.resolve(performance.now()))),
];
printTable(`saturated at ${rate}/s, 64 callers, ${ms / 1000} s (higher permits/s is better only up to the quota)`, [
  ['limiter', 'permits/s', 'of quota', 'CPU µs/permit', 'busiest 1 s', 'rate-sync ÷ this (permits/s)'],
  ...results.map((r) => [
    r.name,
    r.perSecond.toFixed(0),
    `${((100 * r.perSecond) / rate).toFixed(1)}%`,
    r.cpuUsPerPermit.toFixed(2),
    String(r.busiest),
    ratio(results[0]!.perSecond, r.perSecond),
  ]),
]);
await rs.shutdown();
await bottleneck.stop();
