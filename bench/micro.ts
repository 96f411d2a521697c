/**
 * In-process costs, side by side with the peers in the same run (tinybench):
 * - one permit from an unsaturated limiter: rate-sync `tryAcquire` vs rate-limiter-flexible's
 *   `RateLimiterMemory.consume` vs bottleneck's `schedule`;
 * - a first permit from each of 100,000 distinct keys (1,000 for bottleneck, which is slow here): `getOrCloneLimiter` + `tryAcquire` vs
 *   RLF `consume(key)` vs bottleneck `Group.key(key).schedule`.
 */
import Bottleneck from 'bottleneck';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { Bench } from 'tinybench';
import { RateSync } from '../src/index.js';
import { printTable, ratio } from './report.js';

const rs = new RateSync({ configFile: false });
rs.configureLimiter('open', { store: 'memory', ratePerSecond: 1e12, burst: 1_000_000 });
rs.configureLimiter('per_user', { store: 'memory', ratePerSecond: 10, burst: 10 });
const open = await rs.getLimiter('open');
const rlf = new RateLimiterMemory({ points: 1e12, duration: 1 });
const bottleneck = new Bottleneck({});
const group = new Bottleneck.Group({ maxConcurrent: 10 });
const rlfPerKey = new RateLimiterMemory({ points: 10, duration: 1 });

let key = 0;
/** Calls per tinybench iteration: the harness costs more than one permit, so it is amortised. */
const INNER = 1000;
const bench = new Bench({ time: 1500, warmup: true, warmupTime: 300 });
bench
  .add('rate-sync tryAcquire()', async () => {
    for (let i = 0; i < INNER; i++) (await open.tryAcquire())?.release();
  })
  .add('rate-sync acquire() + release()', async () => {
    for (let i = 0; i < INNER; i++) (await open.acquire()).release();
  })
  .add('rate-limiter-flexible RateLimiterMemory.consume()', async () => {
    for (let i = 0; i < INNER; i++) await rlf.consume('k', 1);
  })
  .add('bottleneck schedule()', async () => {
    await bottleneck.schedule(() => Promise.resolve());
  });
await bench.run();

// 100,000 distinct keys, each touched once: the per-key path (clone lookup, state creation).
async function perKey(name: string, n: number, fn: (k: string) => Promise<unknown>): Promise<{ name: string; opsPerSec: number }> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(`user-${key++}`);
  return { name, opsPerSec: n / ((performance.now() - t0) / 1000) };
}
const keyed = [
  await perKey('rate-sync getOrCloneLimiter() + tryAcquire()', 100_000, async (k) =>
    (await (await rs.getOrCloneLimiter('per_user', k)).tryAcquire())?.release(),
  ),
  await perKey('rate-limiter-flexible consume(key)', 100_000, (k) => rlfPerKey.consume(k, 1)),
  // bottleneck takes ~5 ms per sequential job (its scheduler waits a timer turn): 1,000 keys suffice.
  await perKey('bottleneck Group.key(key).schedule()', 1_000, (k) => group.key(k).schedule(() => Promise.resolve())),
];

const rows = bench.tasks.map((t) => ({
  name: t.name,
  opsPerSec:
    (t.result !== undefined && 'throughput' in t.result ? t.result.throughput.mean : 0) *
    (t.name.startsWith('bottleneck') ? 1 : INNER),
}));
const ours = rows[0]!.opsPerSec;
printTable('one permit, unsaturated limiter (ops/s, higher is better)', [
  ['task', 'ops/s', 'rate-sync tryAcquire ÷ this'],
  ...rows.map((r) => [r.name, r.opsPerSec.toFixed(0), ratio(ours, r.opsPerSec)]),
]);
printTable('first permit of 100,000 distinct keys (ops/s)', [
  ['task', 'ops/s', 'rate-sync ÷ this'],
  ...keyed.map((r) => [r.name, r.opsPerSec.toFixed(0), ratio(keyed[0]!.opsPerSec, r.opsPerSec)]),
]);
const target = ours / rows[2]!.opsPerSec;
console.log(`\ntryAcquire vs RateLimiterMemory.consume: ${target.toFixed(2)}× (target ≥ 2×)`);
await rs.shutdown();
await group.disconnect?.();
