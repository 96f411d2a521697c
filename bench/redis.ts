/**
 * Several hosts through Redis, side by side with the peers in the same run, on a throwaway
 * redis-server: 2 processes ("hosts") × 64 concurrent callers each, one library at a time.
 *
 * 1. Unsaturated (a quota far above what the run can take): permits/s through Redis, rate-sync
 *    vs rate-limiter-flexible's RateLimiterRedis (`consume`) vs bottleneck with Redis clustering.
 * 2. Saturated at 1000/s for 5 s: utilisation of the quota, over-admission (the worst window
 *    against burst + rate·T), and the wait error: each grant's instant minus its ideal instant
 *    on a perfect token bucket schedule (negative: early, i.e. over-admitted; positive: late).
 *    rate-sync: token bucket, burst 10 and burst 50 (Node timers fire at 1 ms granularity and
 *    a loaded host is late by more; a burst absorbs that lateness); rate-limiter-flexible:
 *    RateLimiterQueue over RateLimiterRedis (fixed 1 s windows of 1000 points); bottleneck:
 *    minTime 1 ms (Redis clustering).
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { provisionRedis, startRedis } from '../scripts/lib/redis.mjs';
import { printTable, ratio } from './report.js';
import type { Lib } from './workers/redis-host.js';

const HOSTS = 2;
const CALLERS = 64;
const LIBS: Lib[] = ['rate-sync', 'rate-limiter-flexible', 'bottleneck'];

const binaries = provisionRedis();
if ('skip' in binaries) {
  console.log(`skipped: ${binaries.skip}`);
  process.exit(0);
}
const redis = await startRedis(binaries.server);
let runs = 0;

/** CPU time (µs) the redis-server process has used so far (Linux /proc; undefined elsewhere). */
function redisCpuMicros(): number | undefined {
  try {
    const fields = readFileSync(`/proc/${redis.pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

interface Run {
  /** Every grant instant (epoch ms), sorted. */
  stamps: number[];
  /** CPU of the client processes, and of Redis, per permit (µs). */
  clientCpu: number;
  redisCpu: number | undefined;
}

/** Runs `lib` on HOSTS worker processes for `seconds`. */
async function run(lib: Lib, rate: number, burst: number, seconds: number): Promise<Run> {
  const keyPrefix = `bench-${lib}-${++runs}`;
  const workers = Array.from({ length: HOSTS }, () =>
    fork(new URL('./workers/redis-host.ts', import.meta.url), [], { execArgv: ['--import', 'tsx'] }),
  );
  const answer = (w: (typeof workers)[number], type: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      w.on('message', (m: Record<string, unknown>) => {
        if (m['type'] === type) resolve(m);
        if (m['type'] === 'error') reject(new Error(`${lib}: ${String(m['message'])}`));
      });
      w.on('exit', (code) => reject(new Error(`${lib} worker exited with ${code}`)));
    });
  try {
    const ready = workers.map((w) => answer(w, 'ready'));
    for (const w of workers) w.send({ type: 'setup', lib, url: redis.url, keyPrefix, rate, burst });
    await Promise.all(ready);
    const done = workers.map((w) => answer(w, 'done'));
    const startAt = Date.now() + 300;
    for (const w of workers) w.send({ type: 'run', callers: CALLERS, startAt, endAt: startAt + seconds * 1000 });
    const redisBefore = redisCpuMicros();
    const results = await Promise.all(done);
    const redisAfter = redisCpuMicros();
    const stamps = results.flatMap((r) => r['stamps'] as number[]).sort((a, b) => a - b);
    const permits = Math.max(1, stamps.length);
    return {
      stamps,
      clientCpu: results.reduce((sum, r) => sum + (r['cpuMicros'] as number), 0) / permits,
      redisCpu: redisBefore === undefined || redisAfter === undefined ? undefined : (redisAfter - redisBefore) / permits,
    };
  } finally {
    for (const w of workers) if (w.exitCode === null) w.kill();
  }
}

/** The largest excess of grants in any interval [t_i, t_j] over burst + rate·(t_j − t_i). */
function worstExcess(stamps: number[], burst: number, rate: number): number {
  let best = -Infinity;
  let worst = -Infinity;
  stamps.forEach((t, j) => {
    best = Math.max(best, (rate / 1000) * t - j);
    worst = Math.max(worst, j - (rate / 1000) * t + best + 1 - burst);
  });
  return worst;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

// 1. Unsaturated throughput: rounds interleaved (A B C A B C …) and medians compared, so that
// load from elsewhere on the machine weighs on every library alike.
const seconds = 2;
const rounds = 3;
const samples = new Map<Lib, Run[]>(LIBS.map((lib) => [lib, []]));
for (let round = 0; round < rounds; round++) {
  for (const lib of LIBS) samples.get(lib)!.push(await run(lib, 0, 1, seconds));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const unsaturated = LIBS.map((lib) => {
  const runs = samples.get(lib)!;
  const all = runs.map((r) => r.stamps.length / seconds);
  const redisCpu = runs.map((r) => r.redisCpu);
  return {
    lib,
    perSecond: median(all),
    all,
    clientCpu: median(runs.map((r) => r.clientCpu)),
    redisCpu: redisCpu.every((x) => x !== undefined) ? median(redisCpu as number[]) : undefined,
  };
});
const ours = unsaturated[0]!.perSecond;
const bestPeer = Math.max(...unsaturated.slice(1).map((r) => r.perSecond));
printTable(
  `unsaturated: ${HOSTS} processes × ${CALLERS} callers through one Redis, ${rounds} interleaved rounds of ${seconds} s (permits/s, higher is better)`,
  [
    ['library', 'median permits/s', 'rounds', 'rate-sync ÷ this', 'client CPU µs/permit', 'Redis CPU µs/permit'],
    ...unsaturated.map((r) => [
      r.lib,
      r.perSecond.toFixed(0),
      r.all.map((x) => x.toFixed(0)).join(' / '),
      ratio(ours, r.perSecond),
      r.clientCpu.toFixed(1),
      r.redisCpu === undefined ? '-' : r.redisCpu.toFixed(1),
    ]),
  ],
);
console.log(`\nrate-sync vs the better peer: ${(ours / bestPeer).toFixed(2)}× the permits/s (target ≥ 3×)`);
const cpuOf = (r: (typeof unsaturated)[number]) => r.clientCpu + (r.redisCpu ?? 0);
for (const peer of unsaturated.slice(1)) {
  console.log(`CPU per permit, clients + Redis: ${peer.lib} ${cpuOf(peer).toFixed(1)} µs, rate-sync ${cpuOf(unsaturated[0]!).toFixed(1)} µs (${(cpuOf(peer) / cpuOf(unsaturated[0]!)).toFixed(1)}× less)`);
}

// 2. Saturated at 1000/s.
const rate = 1000;
const span = 5;
const rows: string[][] = [];
// The bound a row is held to: rate-sync's configured burst; the peers against burst 10.
const saturated: [Lib, number][] = [['rate-sync', 10], ['rate-sync', 50], ['rate-limiter-flexible', 10], ['bottleneck', 10]];
for (const [lib, burst] of saturated) {
  const { stamps } = await run(lib, rate, burst, span + 0.5);
  const t0 = stamps[0] as number;
  const inSpan = stamps.filter((t) => t <= t0 + span * 1000);
  const ideal = burst + rate * span;
  const errors = inSpan.map((t, k) => t - (t0 + (Math.max(0, k - burst + 1) * 1000) / rate)).sort((a, b) => a - b);
  const excess = worstExcess(stamps, burst, rate);
  rows.push([
    lib === 'rate-sync' ? `rate-sync, burst ${burst}` : lib,
    String(inSpan.length),
    String(ideal),
    `${((100 * inSpan.length) / ideal).toFixed(1)}%`,
    excess <= 1e-6 ? '0' : excess.toFixed(2),
    percentile(errors, 1).toFixed(1),
    percentile(errors, 50).toFixed(1),
    percentile(errors, 99).toFixed(1),
  ]);
}
printTable(`saturated at ${rate}/s: ${HOSTS} processes × ${CALLERS} callers, first ${span} s of grants`, [
  ['library', 'granted', 'ideal (burst + rate·T)', 'utilisation', 'over-admission (units)', 'wait error p1 ms', 'p50 ms', 'p99 ms'],
  ...rows,
]);
console.log('(a burst absorbs (burst − 1) / rate of host lateness: 9 ms at burst 10, 49 ms at burst 50; the peers are held to burst 10)');
await redis.stop();
