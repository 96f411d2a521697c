/**
 * One host of bench/redis.ts: a process that takes permits from one limiter library through
 * Redis with many concurrent callers, driven over IPC.
 *
 *   parent → { type: 'setup', lib, url, keyPrefix, rate, burst }  child → { type: 'ready' }
 *   parent → { type: 'run', callers, startAt, endAt }             child → { type: 'done', stamps, cpuMicros }
 *
 * `stamps` are the grant instants (epoch ms) of the permits granted in [startAt, endAt]: for
 * rate-sync the Redis decision instant (`grantedAt`), for the peers the instant the call resolved.
 */
import Bottleneck from 'bottleneck';
import IORedis, { Redis } from 'ioredis';
import { RateLimiterQueue, RateLimiterRedis } from 'rate-limiter-flexible';
import { RateSync } from '../../src/index.js';

export type Lib = 'rate-sync' | 'rate-limiter-flexible' | 'bottleneck';

interface Setup {
  lib: Lib;
  url: string;
  keyPrefix: string;
  /** Permits per second; 0: unsaturated (a quota far above what the run can take). */
  rate: number;
  burst: number;
}

const now = (): number => performance.timeOrigin + performance.now();
let take: () => Promise<number>;
let close: () => Promise<void>;

async function setup(s: Setup): Promise<void> {
  const unlimited = s.rate === 0;
  if (s.lib === 'rate-sync') {
    const rs = new RateSync({ configFile: false });
    rs.configureStore('r', { engine: 'redis', url: s.url, keyPrefix: s.keyPrefix });
    rs.configureLimiter('api', { store: 'r', ratePerSecond: unlimited ? 1e9 : s.rate, burst: unlimited ? 1e6 : s.burst });
    const limiter = await rs.getLimiter('api');
    await limiter.state();
    take = async () => (await limiter.acquire()).grantedAt;
    close = () => rs.shutdown();
  } else if (s.lib === 'rate-limiter-flexible') {
    const client = new Redis(s.url);
    // Its Redis limiter counts points in fixed windows of `duration`; the queue waits for points.
    const limiter = new RateLimiterRedis({ storeClient: client, keyPrefix: s.keyPrefix, points: unlimited ? 1e9 : s.rate, duration: 1 });
    const queue = new RateLimiterQueue(limiter, { maxQueueSize: 1e7 });
    await limiter.get('api');
    take = unlimited
      ? async () => {
          await limiter.consume('api', 1);
          return now();
        }
      : async () => {
          await queue.removeTokens(1, 'api');
          return now();
        };
    close = async () => client.disconnect();
  } else {
    const { hostname, port } = new URL(s.url);
    // Redis clustering: every job is registered, scheduled and freed by Lua scripts in Redis.
    const limiter = new Bottleneck({
      id: s.keyPrefix,
      datastore: 'ioredis',
      clientOptions: { host: hostname, port: Number(port) },
      Redis: IORedis,
      ...(unlimited ? {} : { minTime: 1000 / s.rate }),
    });
    await limiter.ready();
    take = () => limiter.schedule(() => Promise.resolve(now()));
    close = () => limiter.disconnect();
  }
  process.send?.({ type: 'ready' });
}

async function run(callers: number, startAt: number, endAt: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())));
  const stamps: number[] = [];
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (Date.now() < endAt) {
        const at = await take();
        if (at >= startAt && at <= endAt) stamps.push(at);
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  await close();
  // Exit once the message is out (an exit right after send() may drop it).
  process.send?.({ type: 'done', stamps, cpuMicros: used.user + used.system }, () => process.exit(0));
}

process.on('message', (m: { type: string } & Setup & { callers: number; startAt: number; endAt: number }) => {
  const step = m.type === 'setup' ? setup(m) : run(m.callers, m.startAt, m.endAt);
  step.catch((err: unknown) => {
    process.send?.({ type: 'error', message: err instanceof Error ? err.stack : String(err) });
    process.exit(1);
  });
});
