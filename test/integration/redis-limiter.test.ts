/** The limiter behaviour suite on a real Redis (the run's shared server), in virtual time. */
import { limiterBehaviour } from '../suites/limiter-behaviour.js';
import { redisSkip, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';

limiterBehaviour({
  name: 'redis',
  skip: redisSkip,
  store: () => ({ engine: 'redis', url: sharedRedisUrl as string, keyPrefix: uniquePrefix('suite') }),
  longQueue: 1000,
});
