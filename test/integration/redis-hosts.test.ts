/**
 * Several hosts on one Redis: separate coordinator processes, each with cluster forks doing the
 * calls, share one quota exactly and use it fully; a dead host's lease comes back after lease_seconds.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { RateSync } from '../../src/index.js';
import { countIn, Host, worstExcess } from '../helpers/hosts.js';
import { redisSkip, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';

const hosts: Host[] = [];
after(() => {
  for (const h of hosts) h.kill();
});

test('two hosts, each with 2 cluster forks, share rate 100/s: within burst + 100·T in every window, ≥ 97% used over 5 s', { skip: redisSkip, timeout: 90_000 }, async () => {
  const rate = 100;
  const burst = 5;
  const seconds = 5;
  const setup = { url: sharedRedisUrl as string, keyPrefix: uniquePrefix('hosts'), limiter: { ratePerSecond: rate, burst }, forks: 2, inflight: 16 };
  const pair = await Promise.all([Host.start(setup), Host.start(setup)]);
  hosts.push(...pair);
  const startAt = Date.now() + 200;
  const endAt = startAt + seconds * 1000;
  await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));
  const results = await Promise.all(pair.map((h) => h.saturate(endAt)));
  await Promise.all(pair.map((h) => h.stop()));

  const perFork = results.map((r) => r.grants.map((g) => g.length));
  const grants = results.flatMap((r) => r.grants.flat()).sort((a, b) => a - b);
  const first = grants[0] as number;
  const inFiveSeconds = countIn(grants, first, seconds * 1000);
  const ideal = burst + rate * seconds;
  const excess = worstExcess(grants, burst, rate);
  console.log(
    `two hosts × 2 forks: ${perFork.map((f) => f.join(' + ')).join(' | ')} grants; ${inFiveSeconds} in the first ${seconds} s ` +
      `(${((100 * inFiveSeconds) / ideal).toFixed(1)}% of ${ideal}); worst window excess ${excess.toFixed(4)} units`,
  );
  assert.deepEqual(results.map((r) => r.metrics.fallbackAcquisitions), [0, 0]);
  assert.ok(perFork.flat().every((n) => n > 0.1 * ideal), 'every fork of both hosts is served');
  // Grant stamps are Redis's decision instants mapped to each host's clock (exact when the hosts'
  // wall clocks agree with Redis's, as on one machine): no window may hold more than the bound.
  assert.ok(excess <= 0.01, `over-admission: a window holds ${excess} units more than burst + rate·T`);
  assert.ok(inFiveSeconds >= 0.97 * ideal, `utilisation ${inFiveSeconds} / ${ideal}`);
});

test('a lease holder killed with SIGKILL: its lease comes back after lease_seconds, not before', { skip: redisSkip, timeout: 30_000 }, async () => {
  const limiter = { maxConcurrent: 1, leaseSeconds: 1 };
  const setup = { url: sharedRedisUrl as string, keyPrefix: uniquePrefix('sigkill'), limiter };
  const holder = await Host.start(setup);
  hosts.push(holder);
  await holder.hold();

  const rs = new RateSync({ configFile: false, log: () => undefined });
  rs.configureStore('shared', { engine: 'redis', url: setup.url, keyPrefix: setup.keyPrefix });
  rs.configureLimiter('api', { store: 'shared', ...limiter });
  const api = await rs.getLimiter('api');
  try {
    // Held for 1.5 lease periods: the holder's coordinator renews it while the process lives.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(await api.tryAcquire({ timeoutMs: 0 }), null, 'the live holder keeps its lease');
    holder.kill('SIGKILL');
    const killedAt = performance.now();
    const permit = await api.acquire({ timeoutMs: 5000 });
    const after = performance.now() - killedAt;
    console.log(`lease reclaimed ${after.toFixed(0)} ms after SIGKILL (lease_seconds 1, renewed every 333 ms)`);
    // It was last renewed at most a third of a lease before the kill.
    assert.ok(after >= 550 && after <= 1600, `lease came back ${after.toFixed(0)} ms after the kill`);
    permit.release();
  } finally {
    await rs.shutdown();
  }
});
