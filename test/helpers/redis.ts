/**
 * Redis for tests: the run's shared server (started by scripts/test.mjs) and throwaway servers of
 * a test's own. When this machine cannot have Redis, `redisSkip` says why and tests skip with it.
 */
import { startRedis, type RedisInstance } from '../../scripts/lib/redis.mjs';

export const sharedRedisUrl = process.env['RATE_SYNC_TEST_REDIS_URL'];

export const redisSkip: string | false =
  sharedRedisUrl !== undefined
    ? false
    : (process.env['RATE_SYNC_TEST_REDIS_SKIP'] ?? 'no Redis for this run (run the suite with `npm test`)');

/** Starts a redis-server of the test's own (e.g. to kill it); stop it in an `after` hook. */
export function ownRedis(options?: { port?: number; dir?: string; args?: string[] }): Promise<RedisInstance> {
  const server = process.env['RATE_SYNC_TEST_REDIS_SERVER'];
  if (server === undefined) throw new Error('RATE_SYNC_TEST_REDIS_SERVER is not set: run the suite with `npm test`');
  return startRedis(server, options);
}
