/** The suite's Redis harness gives real, reachable servers that it can also kill and restart. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { ownRedis, redisSkip, sharedRedisUrl } from '../helpers/redis.js';

test('the shared server answers, and a server of our own can be killed and restarted on its port', { skip: redisSkip }, async () => {
  const shared = new Redis(sharedRedisUrl as string, { lazyConnect: true });
  await shared.connect();
  assert.equal(await shared.ping(), 'PONG');
  shared.disconnect();

  const own = await ownRedis();
  const client = new Redis(own.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  await client.connect();
  await client.set('k', 'v');
  client.disconnect();
  await own.kill();
  const again = await ownRedis({ port: own.port, dir: own.dir });
  const fresh = new Redis(again.url, { lazyConnect: true });
  await fresh.connect();
  assert.equal(await fresh.get('k'), null, 'nothing persisted: --save "" --appendonly no');
  fresh.disconnect();
  await again.stop();
});
