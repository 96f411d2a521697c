/** The suite's Redis harness gives real, reachable servers that it can also kill and restart. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { ownRedis, redisSkip, sharedRedisUrl } from '../helpers/redis.js';

test('the shared server answers, and a server of our own can be killed and restarted on its port', { skip: redisSkip }, async () => {
  const shared = new Redis(sharedRedisUrl as string, { lazyConnect: true });
  await shared.connect();
  assert.equal(await shared.ping(), 'PONG');
  shared.disconnect();

  const own = await ownRedis();
  try {
    const client = new Redis(own.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await client.connect();
    await client.set('k', 'v');
    client.disconnect();
    const first = own.pid;
    await own.kill();
    await own.restart();
    assert.notEqual(own.pid, first, 'a new server process');
    const fresh = new Redis(own.url, { lazyConnect: true });
    await fresh.connect();
    assert.equal(await fresh.get('k'), null, 'nothing persisted: --save "" --appendonly no');
    fresh.disconnect();
  } finally {
    await own.stop();
  }
  // stop() stopped the restarted server, not only the killed one, and removed the directory.
  const refused = await new Promise<string>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: own.port });
    socket.on('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
  assert.equal(refused, 'ECONNREFUSED', 'nothing listens on the port any more');
  assert.equal(existsSync(own.dir), false, 'its directory is gone');
});
