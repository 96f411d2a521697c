/** Redis's time as the bridge estimates it: from the sample with the shortest round trip. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RedisClock } from '../../src/celery-bridge/redis-clock.js';
import { FakeClock } from '../../src/testing.js';

test('keeps the offset of the fastest sample and follows the clock between samples', async () => {
  const clock = new FakeClock(1000);
  // Redis is 5,000,000 ms ahead of the coordinator's clock; the answer takes `rtt` ms to come back.
  let rtt = 40;
  const time = async (): Promise<string[]> => {
    const redisMs = clock.now() + 5_000_000 + rtt / 2;
    await clock.advance(rtt);
    return [String(Math.floor(redisMs / 1000)), String(Math.round((redisMs % 1000) * 1000))];
  };
  const redis = new RedisClock(clock, time);
  assert.equal(redis.synced, false);
  assert.throws(() => redis.nowMs(), /before its first sync/);
  await redis.sync();
  assert.equal(redis.errorMs, 20);
  assert.ok(Math.abs(redis.nowMs() - (clock.now() + 5_000_000)) < 1e-6);
  rtt = 2;
  await redis.sync(2);
  assert.equal(redis.errorMs, 1, 'the fastest round trip wins');
  await clock.advance(10_000);
  assert.ok(Math.abs(redis.nowMs() - (clock.now() + 5_000_000)) < 1e-6);
});
