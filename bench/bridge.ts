/**
 * The Celery bridge, measured against the raw transport it rides on, in the same run:
 * - round trip of one Python `acquire` (sync and asyncio APIs) vs a raw Python → Redis → Node →
 *   Redis → Python echo over the same lists (plain RPUSH + BLPOP on the Python side; a Node echo
 *   that pops in batches like the bridge and answers without a coordinator). Target ≤ 1.5×.
 * - 8 concurrent Python client processes: permits/s vs the echo's round trips/s. Target ≥ 80%.
 * The two alternate in time slots shared by every client process, so both see the same (noisy,
 * shared, 2-core) machine. Needs redis-server and the project's .venv (provisioned as `npm test` does).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { provisionPython } from '../scripts/lib/python.mjs';
import { provisionRedis, startRedis } from '../scripts/lib/redis.mjs';
import { startCeleryBridge } from '../src/celery-bridge/index.js';
import { RateSync } from '../src/index.js';
import { printTable, ratio } from './report.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const client = fileURLToPath(new URL('./bridge_client.py', import.meta.url));

interface Side {
  count: number;
  seconds: number;
  cpu_seconds: number;
  latencies_us: number[];
}
type Run = Record<'echo' | 'acquire', Side>;

/** The raw echo: same lists, same batching as the bridge (BLMPOP on Redis 7), no coordinator. */
function startEcho(url: string, namespace: string): { stop(): Promise<void> } {
  const blocking = new Redis(url);
  const command = new Redis(url, { enableAutoPipelining: true });
  const requests = `${namespace}:bridge:requests`;
  let stopping = false;
  const answer = (raw: string): void => {
    const m = JSON.parse(raw) as { reply: string; id: string };
    void command.rpush(`${namespace}:bridge:reply:${m.reply}`, JSON.stringify({ v: 1, type: 'reply', id: m.id, ok: true, value: { lease: null, grantedAt: Date.now() } }));
  };
  const loop = (async () => {
    const blmpop = Number(/redis_version:(\d+)/.exec(await command.info('server'))?.[1] ?? 0) >= 7;
    while (!stopping) {
      try {
        if (blmpop) {
          ((await blocking.blmpop(1, 1, requests, 'LEFT', 'COUNT', 256))?.[1] ?? []).forEach(answer);
          continue;
        }
        const first = await blocking.blpop(requests, 1);
        if (first === null) continue;
        answer(first[1]);
        for (let more = true; more; ) {
          const rest = (await blocking.lpop(requests, 256)) ?? [];
          rest.forEach(answer);
          more = rest.length === 256;
        }
      } catch {
        if (!stopping) throw new Error('echo lost its Redis connection');
      }
    }
  })();
  return {
    async stop() {
      stopping = true;
      blocking.disconnect();
      await loop;
      command.disconnect();
    },
  };
}

/** `n` client processes alternating echo and acquire in shared time slots (see bridge_client.py). */
function runClients(python: string, n: number, api: 'sync' | 'async', seconds: number, slotSeconds: number, url: string): Promise<Run[]> {
  const start = Date.now() / 1000 + 3; // leaves every process time to start and warm up
  return Promise.all(
    Array.from({ length: n }, () =>
      new Promise<Run>((resolve, reject) => {
        const args = [client, api, String(seconds), String(slotSeconds), String(start), url, echoNs, bridgeNs];
        const child = spawn(python, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Run) : reject(new Error(`bridge_client.py ${api} exited with ${code}`))));
      }),
    ),
  );
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

interface Summary {
  perSecond: number;
  mean: number;
  p50: number;
  p99: number;
  cpuUs: number;
}

/** Calls per second of slot time (summed over processes), latency statistics, client CPU per call. */
function summary(sides: Side[]): Summary {
  const all = sides.flatMap((s) => s.latencies_us).sort((a, b) => a - b);
  const count = sides.reduce((s, x) => s + x.count, 0);
  return {
    perSecond: sides.reduce((s, x) => s + x.count / x.seconds, 0),
    mean: all.reduce((s, x) => s + x, 0) / all.length,
    p50: quantile(all, 0.5),
    p99: quantile(all, 0.99),
    cpuUs: (1e6 * sides.reduce((s, x) => s + x.cpu_seconds, 0)) / count,
  };
}

const redisBinaries = provisionRedis();
if ('skip' in redisBinaries) throw new Error(`bench/bridge.ts needs redis-server: ${redisBinaries.skip}`);
const venv = provisionPython(root);
if ('skip' in venv) throw new Error(`bench/bridge.ts needs the Python virtualenv: ${venv.skip}`);
const python = venv.python;
const redis = await startRedis(redisBinaries.server);
const echoNs = `echo${randomBytes(4).toString('hex')}`;
const bridgeNs = `bench${randomBytes(4).toString('hex')}`;

const rs = new RateSync({ configFile: false });
rs.configureLimiter('open', { store: 'memory', ratePerSecond: 1e9, burst: 1_000_000 });
const bridge = await startCeleryBridge(rs, { url: redis.url, namespace: bridgeNs });
const echo = startEcho(redis.url, echoNs);

async function compare(n: number, api: 'sync' | 'async', seconds: number, slotSeconds: number): Promise<Record<'echo' | 'ours', Summary>> {
  const runs = await runClients(python, n, api, seconds, slotSeconds, redis.url);
  return { echo: summary(runs.map((r) => r.echo)), ours: summary(runs.map((r) => r.acquire)) };
}

try {
  const rows: string[][] = [['client', 'mean µs', 'p50 µs', 'p99 µs', 'calls/s', 'client CPU µs/call', 'acquire ÷ echo (p50 / mean)']];
  const targets: string[] = [];
  for (const api of ['sync', 'async'] as const) {
    const { echo: e, ours: o } = await compare(1, api, 8, 0.25);
    const row = (name: string, s: Summary, last: string): string[] =>
      [name, s.mean.toFixed(0), s.p50.toFixed(0), s.p99.toFixed(0), s.perSecond.toFixed(0), s.cpuUs.toFixed(0), last];
    rows.push(row(`raw echo, 1 ${api} client`, e, ''));
    rows.push(row(`ratesync_bridge acquire(), 1 ${api} client`, o, `${ratio(o.p50, e.p50)} / ${ratio(o.mean, e.mean)}`));
    targets.push(`${api} round trip: acquire ÷ raw echo = ${(o.p50 / e.p50).toFixed(2)}× at the median, ${(o.mean / e.mean).toFixed(2)}× on average (target ≤ 1.5×)`);
  }
  printTable('round trip, one Python client: echo and acquire alternating every 0.25 s for 8 s', rows);
  const { echo: e8, ours: o8 } = await compare(8, 'sync', 10, 0.5);
  printTable('8 concurrent Python client processes (sync API): echo and acquire alternating every 0.5 s for 10 s', [
    ['client', 'calls/s', 'mean µs', 'p99 µs', 'client CPU µs/call', 'of the echo'],
    ['raw echo', e8.perSecond.toFixed(0), e8.mean.toFixed(0), e8.p99.toFixed(0), e8.cpuUs.toFixed(0), ''],
    ['ratesync_bridge acquire()', o8.perSecond.toFixed(0), o8.mean.toFixed(0), o8.p99.toFixed(0), o8.cpuUs.toFixed(0), `${((100 * o8.perSecond) / e8.perSecond).toFixed(1)}%`],
  ]);
  targets.push(`8 clients: permits/s = ${((100 * o8.perSecond) / e8.perSecond).toFixed(1)}% of the raw echo's round trips/s (target ≥ 80%)`);
  console.log(`\n${targets.join('\n')}`);
  console.log(`bridge counters: ${JSON.stringify(bridge.stats())}`);
} finally {
  await echo.stop();
  await bridge.stop();
  await rs.shutdown();
  await bridge.close();
  await redis.stop();
}
