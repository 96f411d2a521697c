/**
 * Redis Cluster: 3 masters on loopback ports, created with `redis-cli --cluster create`. The
 * limiter behaviour suite passes there too, every script touches one slot, and limiter keys
 * spread over the masters.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { RateSync } from '../../src/index.js';
import { limiterKeys } from '../../src/stores/redis/keys.js';
import { ownCluster, redisSkip, uniquePrefix, type RedisCluster } from '../helpers/redis.js';
import { limiterBehaviour } from '../suites/limiter-behaviour.js';

let cluster: RedisCluster | undefined;

before(async () => {
  if (redisSkip === false) cluster = await ownCluster(3);
}, { timeout: 60_000 });

after(async () => {
  await cluster?.stop();
});

const clusterStore = (label: string) => ({ engine: 'redis' as const, url: (cluster as RedisCluster).url, cluster: true, keyPrefix: uniquePrefix(label) });

limiterBehaviour({ name: 'redis cluster (3 masters)', skip: redisSkip, store: () => clusterStore('cluster-suite'), longQueue: 300 });

test('the keys of a limiter share one slot, whatever its key contains; limiters spread over the masters', { skip: redisSkip }, async () => {
  const node = new Redis((cluster as RedisCluster).nodes[0]!.url);
  const store = clusterStore('slots');
  try {
    for (const key of ['api', 'api:user-1', 'a}b{c', '{x}', 'x{}', '}{', '}', '%7B', 'emoji-🙂']) {
      const keys = limiterKeys(store.keyPrefix, key);
      const slots = await Promise.all([keys.rate, keys.window, keys.leases].map((k) => node.call('CLUSTER', 'KEYSLOT', k)));
      assert.equal(new Set(slots).size, 1, `keys of ${JSON.stringify(key)} are on slots ${slots.join(', ')}`);
    }
  } finally {
    node.disconnect();
  }

  const rs = new RateSync({ configFile: false, log: () => undefined });
  rs.configureStore('c', store);
  rs.configureLimiter('api', { store: 'c', algorithm: 'sliding_window', limit: 5, windowSeconds: 60, maxConcurrent: 2 });
  for (let i = 0; i < 40; i++) {
    const limiter = await rs.getOrCloneLimiter('api', i % 2 === 0 ? `user-${i}` : `odd}{key-${i}`);
    (await limiter.acquire()).release();
  }
  await rs.shutdown();
  const holding = await Promise.all(
    (cluster as RedisCluster).nodes.map(async (n) => {
      const client = new Redis(n.url);
      const [, keys] = await client.scan('0', 'MATCH', `${store.keyPrefix}:*`, 'COUNT', 10_000);
      client.disconnect();
      return keys.length;
    }),
  );
  assert.equal(holding.reduce((a, b) => a + b, 0), 40, `window keys of 40 limiter keys: ${holding.join(' + ')}`);
  assert.ok(holding.filter((n) => n > 0).length >= 2, `40 limiter keys all landed on one master: ${holding.join(', ')}`);
});
