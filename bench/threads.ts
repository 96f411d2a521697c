/**
 * rate-sync across worker threads and cluster forks, against the raw transports and against
 * rate-limiter-flexible's RateLimiterCluster (its master in this primary), in the same run.
 * Each comparison alternates its contenders over several short rounds and reports medians, so
 * that other load on the machine hits both sides alike.
 *
 * 1. Round trip of one acquire() from a worker thread vs a raw MessagePort ping-pong (and a raw
 *    BroadcastChannel one, the transport rate-sync uses there), and from a fork vs a raw
 *    process.send ping-pong. The raw ping-pongs carry the same objects as an acquire and its reply.
 * 2. Throughput with 64 requests in flight per client vs one at a time (2 threads, then 2 forks).
 * 3. 2 cluster forks × 64 in flight: rate-sync vs RateLimiterCluster.
 * 4. Accuracy at 500 per second, 2 forks × 16 callers for 4 s: what each admitted and its busiest
 *    1-second window (RateLimiterCluster's fixed window, retried after msBeforeNext as its docs
 *    say, vs rate-sync's sliding window), stamped where each decides (rate-sync's coordinator,
 *    RateLimiterCluster's master) and where the forks receive the answer.
 */
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { BroadcastChannel, MessageChannel, Worker, type TransferListItem } from 'node:worker_threads';
import { RateLimiterClusterMaster, RateLimiterMemory } from 'rate-limiter-flexible';
import { configureLimiter, shutdown } from '../src/index.js';
import { busiestWindow, median, printTable, ratio } from './report.js';

const agentUrl = new URL('./fixtures/agent.ts', import.meta.url);
const tsWorker = new URL('../scripts/lib/ts-worker.mjs', import.meta.url);
const pong = (id: number) => ({ v: 1, type: 'reply', id, ok: true, value: { lease: null, grantedAt: Date.now() } });

type FromAgent = { op?: string; result?: unknown; bench?: string; m?: { id: number } };

class Agent {
  readonly started: Promise<unknown>;
  readonly #send: (message: unknown, transfer?: TransferListItem[]) => void;
  readonly #waiting = new Map<string, (result: unknown) => void>();

  constructor(name: string, send: Agent['send'], on: (listener: (m: FromAgent) => void) => void) {
    this.#send = send;
    this.started = new Promise((resolve) => this.#waiting.set('started', resolve));
    on((m) => {
      if (m.bench === 'ping') return this.#send({ bench: 'pong', m: pong(m.m?.id ?? 0) });
      if (m.op === 'failed') throw new Error(`${name}: ${String(m.result)}`);
      if (m.op !== undefined) this.#waiting.get(m.op)?.(m.result);
    });
  }

  send(message: unknown, transfer?: TransferListItem[]): void {
    this.#send(message, transfer);
  }

  ask<T>(op: string, args: Record<string, unknown> = {}, transfer?: TransferListItem[]): Promise<T> {
    return new Promise<T>((resolve) => {
      this.#waiting.set(op, resolve as (result: unknown) => void);
      this.#send({ op, ...args }, transfer);
    });
  }
}

function thread(name: string): Agent {
  const worker = new Worker(tsWorker, { workerData: { entry: agentUrl.href } });
  return new Agent(name, (m, transfer) => worker.postMessage(m, transfer), (listener) => worker.on('message', listener));
}

const forks: ClusterWorker[] = [];
function clusterFork(name: string): Agent {
  cluster.setupPrimary({ exec: agentUrl.pathname, execArgv: process.execArgv });
  const worker = cluster.fork();
  forks.push(worker);
  return new Agent(name, (m) => worker.send(m as object), (listener) => worker.on('message', listener));
}

/** Runs each contender once per round, `rounds` times, alternating; medians by name. */
async function alternate(rounds: number, contenders: Record<string, () => Promise<number>>): Promise<Record<string, number>> {
  const results: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    const names = Object.keys(contenders);
    if (r % 2 === 1) names.reverse();
    for (const name of names) (results[name] ??= []).push(await (contenders[name] as () => Promise<number>)());
  }
  return Object.fromEntries(Object.entries(results).map(([name, values]) => [name, median(values)]));
}

configureLimiter('open', { store: 'memory', ratePerSecond: 1e9, burst: 1_000_000 });
configureLimiter('window', { store: 'memory', algorithm: 'sliding_window', limit: 500, windowSeconds: 1 });
new RateLimiterClusterMaster();
const echo = new BroadcastChannel('bench-raw-broadcast');
echo.onmessage = (event) => echo.postMessage(pong(((event as MessageEvent).data as { id: number }).id));
echo.unref();

const threads = [thread('thread 1'), thread('thread 2')];
const procs = [clusterFork('fork 1'), clusterFork('fork 2')];
const all = [...threads, ...procs];
await Promise.all(all.map((a) => a.started));
await Promise.all(all.map((a) => a.ask('ready', { limiter: 'open' })));
await Promise.all(all.map((a) => a.ask('round-trips', { limiter: 'open', n: 1000 })));

// 1. Round trips.
const n = 1000;
const rounds = 15;
const [thread1, fork1] = [threads[0] as Agent, procs[0] as Agent];
const rtThread = await alternate(rounds, {
  port: () => {
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (m: { id: number }) => port1.postMessage(pong(m.id)));
    return thread1.ask<number>('raw-port', { port: port2, n }, [port2]).finally(() => port1.close());
  },
  broadcast: () => thread1.ask<number>('raw-broadcast', { n }),
  acquire: () => thread1.ask<number>('round-trips', { limiter: 'open', n }),
});
const rtFork = await alternate(rounds, {
  ipc: () => fork1.ask<number>('raw-ipc', { n }),
  acquire: () => fork1.ask<number>('round-trips', { limiter: 'open', n }),
});
printTable(`round trip, one at a time (µs, median of ${rounds} alternating rounds of ${n}; lower is better)`, [
  ['from', 'raw ping-pong', 'rate-sync acquire()', 'acquire ÷ raw', 'target'],
  ['worker thread, vs MessagePort', rtThread['port']!.toFixed(1), rtThread['acquire']!.toFixed(1), ratio(rtThread['acquire']!, rtThread['port']!), '≤ 1.5×'],
  ['worker thread, vs BroadcastChannel', rtThread['broadcast']!.toFixed(1), rtThread['acquire']!.toFixed(1), ratio(rtThread['acquire']!, rtThread['broadcast']!), ''],
  ['cluster fork, vs process.send', rtFork['ipc']!.toFixed(1), rtFork['acquire']!.toFixed(1), ratio(rtFork['acquire']!, rtFork['ipc']!), '≤ 1.5×'],
]);

// 2. Throughput: 64 in flight per client vs one at a time.
const ms = 1000;
function rate(agents: Agent[], inflight: number, op = 'throughput'): () => Promise<number> {
  return async () => {
    const counts = await Promise.all(agents.map((a) => a.ask<number>(op, { limiter: 'open', ms, inflight })));
    return counts.reduce((a, b) => a + b, 0) / (ms / 1000);
  };
}
const tpThreads = await alternate(5, { one: rate(threads, 1), many: rate(threads, 64) });
const tpForks = await alternate(5, { one: rate(procs, 1), many: rate(procs, 64) });
printTable(`throughput (permits/s, median of 5 alternating rounds of ${ms / 1000} s; higher is better)`, [
  ['clients', 'one at a time', '64 in flight each', 'ratio', 'target'],
  ['2 worker threads', tpThreads['one']!.toFixed(0), tpThreads['many']!.toFixed(0), ratio(tpThreads['many']!, tpThreads['one']!), '≥ 10×'],
  ['2 cluster forks', tpForks['one']!.toFixed(0), tpForks['many']!.toFixed(0), ratio(tpForks['many']!, tpForks['one']!), '≥ 10×'],
]);

// 3. Against RateLimiterCluster: the same forks, the same load.
const versus = await alternate(5, { ours: rate(procs, 64), rlf: rate(procs, 64, 'rlf-throughput') });
printTable(`2 cluster forks × 64 in flight, unsaturated limiter (permits/s, median of 5 alternating rounds of ${ms / 1000} s)`, [
  ['limiter', 'permits/s', 'rate-sync ÷ this', 'target'],
  ['rate-sync acquire()', versus['ours']!.toFixed(0), '1.00×', ''],
  ['rate-limiter-flexible RateLimiterCluster.consume()', versus['rlf']!.toFixed(0), ratio(versus['ours']!, versus['rlf']!), '≥ 5×'],
]);

// 4. Accuracy at 500 per second, stamped where each limiter decides.
const limit = 500;
// RateLimiterCluster's decisions are made by a RateLimiterMemory in its master (this process):
// stamp them there, as rate-sync's grantedAt is stamped at the coordinator.
const decided: number[] = [];
const consume = RateLimiterMemory.prototype.consume;
RateLimiterMemory.prototype.consume = function (this: RateLimiterMemory, ...args: Parameters<typeof consume>) {
  const result = consume.apply(this, args);
  if (this.keyPrefix === `bench${limit}`) result.then(() => decided.push(performance.timeOrigin + performance.now()), () => undefined);
  return result;
};
const epochNow = (): number => performance.timeOrigin + performance.now();

/**
 * 2 forks × 16 callers take from `limiter` for `ms` from `startAt`; returns the decision instants.
 * `opener`: one permit is taken first, `startAt` ms before the others come.
 */
async function load(rlf: boolean, limiterId: string, opener: boolean, delayMs: number, ms: number): Promise<number[]> {
  decided.length = 0;
  const opened = opener ? [await fork1.ask<number>(rlf ? 'rlf-one' : 'one', { limiter: limiterId, points: limit })] : [];
  const startAt = epochNow() + delayMs;
  const args = { limiter: limiterId, startAt, ms, inflight: 16, points: limit };
  const results = await Promise.all(procs.map((a) => a.ask<number[] | number>(rlf ? 'rlf-saturate' : 'saturate', args)));
  const stamps = rlf ? [...decided] : [...(opener ? [opened[0] as number] : []), ...(results as number[][]).flat()];
  return stamps.sort((a, b) => a - b);
}
const row = (scenario: string, name: string, stamps: number[], seconds: number): string[] => {
  const inRun = stamps.filter((t) => t < stamps[0]! + seconds * 1000).length;
  const peak = busiestWindow(stamps, 1000);
  const over = ((peak - limit) / limit) * 100;
  return [scenario, name, String(inRun), `${((100 * inRun) / (limit * seconds)).toFixed(1)}%`, String(peak), `${over > 0 ? '+' : ''}${over.toFixed(1)}%`];
};
configureLimiter('window2', { store: 'memory', algorithm: 'sliding_window', limit, windowSeconds: 1 });
const saturated = 'saturated 4 s';
const burst = 'quiet, then a burst at 0.9 s';
printTable(`accuracy: ${limit} per second, 2 forks × 16 callers (instants where each limiter decides)`, [
  ['load', 'limiter', 'admitted in the first 4 s', `of ${limit} × 4`, 'busiest 1 s', 'over the limit'],
  row(saturated, 'rate-sync sliding window 500 / 1 s', await load(false, 'window', false, 0, 4000), 4),
  row(saturated, 'RateLimiterCluster 500 points / 1 s', await load(true, 'window', false, 0, 4000), 4),
  row(burst, 'rate-sync sliding window 500 / 1 s', await load(false, 'window2', true, 900, 3100), 4),
  row(burst, 'RateLimiterCluster 500 points / 1 s', await load(true, 'window2', true, 900, 3100), 4),
]);

for (const w of forks) w.kill('SIGKILL');
await shutdown();
process.exit(0);
