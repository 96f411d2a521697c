import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyOverrides,
  validateLimiterOptions,
  validateStoreOptions,
  type LimiterConfig,
  type LimiterOptions,
  type LimiterOverrides,
  type StoreConfig,
  type StoreOptions,
} from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';

const LIMITER_OPTIONS =
  'one of the options: store, storeId, algorithm, ratePerSecond, burst, limit, windowSeconds, maxConcurrent, timeout, failClosed, leaseSeconds';
const NO_STORES: ReadonlyMap<string, StoreConfig> = new Map();

function thrown(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('nothing was thrown');
}

test('validateStoreOptions fills the defaults and reads REDIS_URL from the env given', () => {
  assert.deepEqual(validateStoreOptions('cache', { engine: 'redis', keyPrefix: 'app', expectedHosts: 2 }, { REDIS_URL: 'redis://r:1/3' }), {
    id: 'cache', engine: 'redis', url: 'redis://r:1/3', keyPrefix: 'app', connectTimeout: 2, commandTimeout: 1, expectedHosts: 2, cluster: false, clusterNodes: [],
  });
  assert.deepEqual(validateStoreOptions('local', { engine: 'memory' }, {}), { id: 'local', engine: 'memory' });
});

test('store option issues use the camelCase names and the configureStore source', () => {
  const options = { engine: 'redis', url: 'http://x', connectTimeout: -1, key_prefix: 'x' } as unknown as StoreOptions;
  const err = thrown(() => validateStoreOptions('cache', options, {}));
  assert.equal(err.source, 'configureStore("cache")');
  assert.deepEqual(err.issues, [
    {
      path: 'key_prefix',
      expected: 'one of the options: engine, url, keyPrefix, connectTimeout, commandTimeout, expectedHosts, cluster, clusterNodes',
      found: 'unknown option "key_prefix"; did you mean "keyPrefix"?',
    },
    { path: 'url', expected: 'a redis:// or rediss:// URL', found: '"http://x" (string)' },
    { path: 'connectTimeout', expected: 'a number > 0', found: '-1 (number)' },
  ]);
  assert.deepEqual(thrown(() => validateStoreOptions('m', { engine: 'memory', url: 'redis://x' } as unknown as StoreOptions, {})).issues, [
    { path: 'url', expected: 'no option other than engine', found: 'unknown option "url"' },
  ]);
  assert.deepEqual(thrown(() => validateStoreOptions('a:b', { engine: 'memory' }, {})).issues, [
    { path: '', expected: 'an id of 1 to 128 letters, digits, "_", "." or "-" (not ":", which separates a limiter from its clone key)', found: '"a:b"' },
  ]);
});

test('validateLimiterOptions accepts storeId, a known store, and returns an implicit store when needed', () => {
  const stores = new Map<string, StoreConfig>([['local', { id: 'local', engine: 'memory' }]]);
  assert.deepEqual(validateLimiterOptions('api', { storeId: 'local', ratePerSecond: 0.5, burst: 2, timeout: 0 }, stores, {}), {
    limiter: { id: 'api', store: 'local', algorithm: 'token_bucket', ratePerSecond: 0.5, burst: 2, timeout: 0, failClosed: false, leaseSeconds: 60 },
  });
  const implicit = validateLimiterOptions(
    'gh',
    { store: 'redis', algorithm: 'sliding_window', limit: 5000, windowSeconds: 3600 },
    stores,
    { REDIS_URL: 'rediss://h:6380/0' },
  );
  assert.deepEqual(implicit.implicitStore, {
    id: 'redis', engine: 'redis', url: 'rediss://h:6380/0', keyPrefix: 'ratesync', connectTimeout: 2, commandTimeout: 1, expectedHosts: 1, cluster: false, clusterNodes: [],
  });
  const known = new Map<string, StoreConfig>([['redis', { id: 'redis', engine: 'memory' }]]);
  assert.equal(validateLimiterOptions('gh', { store: 'redis', maxConcurrent: 1 }, known, {}).implicitStore, undefined);
});

test('limiter option issues name the camelCase options, unknown ones with a did-you-mean', () => {
  const options = { store: 'nowhere', storeId: 'x', ratePerSec: 1, rate_per_second: 2, limit: 3, failClosed: 'no' };
  const err = thrown(() => validateLimiterOptions('api', options as unknown as LimiterOptions, NO_STORES, {}));
  assert.equal(err.source, 'configureLimiter("api")');
  assert.deepEqual(err.issues, [
    { path: 'ratePerSec', expected: LIMITER_OPTIONS, found: 'unknown option "ratePerSec"; did you mean "ratePerSecond"?' },
    { path: 'rate_per_second', expected: LIMITER_OPTIONS, found: 'unknown option "rate_per_second"; did you mean "ratePerSecond"?' },
    { path: 'failClosed', expected: 'true or false', found: '"no" (string)' },
    { path: 'storeId', expected: 'either store or storeId (two names of one key)', found: 'both store ("nowhere") and storeId ("x")' },
    { path: 'limit', expected: 'no limit on a token_bucket (it belongs to sliding_window)', found: '3 (number)' },
    { path: 'ratePerSecond', expected: 'a number > 0 (a token_bucket needs ratePerSecond, maxConcurrent or both)', found: 'nothing' },
    { path: 'store', expected: 'a declared store (none is declared), or "memory" / "redis" for one with defaults', found: '"nowhere" (string)' },
  ]);
});

test('a programmatic sliding window missing its window names windowSeconds', () => {
  const err = thrown(() => validateLimiterOptions('w', { store: 'memory', algorithm: 'sliding_window', limit: 5, burst: 2 }, NO_STORES, {}));
  assert.deepEqual(err.issues, [
    { path: 'burst', expected: 'no burst on a sliding_window (it belongs to token_bucket)', found: '2 (number)' },
    { path: 'windowSeconds', expected: 'a number > 0 (a sliding_window needs limit and windowSeconds)', found: 'nothing' },
  ]);
});

const bucket: LimiterConfig = {
  id: 'github_api', store: 'redis', algorithm: 'token_bucket', ratePerSecond: 10, burst: 1, maxConcurrent: 4, failClosed: true, leaseSeconds: 60,
};

test('applyOverrides keeps the base and replaces what is given', () => {
  assert.deepEqual(applyOverrides(bucket, 'github_api:worker', { ratePerSecond: 2, burst: 5, timeout: 1.5, maxConcurrent: undefined }), {
    id: 'github_api:worker', store: 'redis', algorithm: 'token_bucket', ratePerSecond: 2, burst: 5, maxConcurrent: 4,
    timeout: 1.5, failClosed: true, leaseSeconds: 60,
  });
  assert.deepEqual(applyOverrides(bucket, 'github_api:x', {}), { ...bucket, id: 'github_api:x' });
});

test('applyOverrides refuses the store, the algorithm, options of the other algorithm and bad values', () => {
  const overrides = { algorithm: 'sliding_window', store: 'memory', limit: 5, ratePerSecond: 0, burts: 2 };
  const err = thrown(() => applyOverrides(bucket, 'github_api:w', overrides as unknown as LimiterOverrides));
  assert.equal(err.source, 'cloneLimiter("github_api:w")');
  const overridable = 'ratePerSecond, burst, limit, windowSeconds, maxConcurrent, timeout, leaseSeconds';
  assert.deepEqual(err.issues, [
    {
      path: 'algorithm',
      expected: `one of the options a clone may override: ${overridable}`,
      found: 'algorithm (a clone keeps the store, algorithm and failure policy of "github_api")',
    },
    {
      path: 'store',
      expected: `one of the options a clone may override: ${overridable}`,
      found: 'store (a clone keeps the store, algorithm and failure policy of "github_api")',
    },
    { path: 'burts', expected: `one of the options: ${overridable}`, found: 'unknown option "burts"; did you mean "burst"?' },
    { path: 'ratePerSecond', expected: 'a number > 0', found: '0 (number)' },
    { path: 'limit', expected: 'no limit on a token_bucket (it belongs to sliding_window)', found: '5 (number)' },
  ]);
});

test('applyOverrides on a sliding window accepts its own keys only', () => {
  const window: LimiterConfig = { id: 'w', store: 'memory', algorithm: 'sliding_window', limit: 60, windowSeconds: 60, failClosed: false, leaseSeconds: 60 };
  assert.equal(applyOverrides(window, 'w:a', { limit: 10 }).limit, 10);
  assert.deepEqual(thrown(() => applyOverrides(window, 'w:a', { ratePerSecond: 1 })).issues, [
    { path: 'ratePerSecond', expected: 'no ratePerSecond on a sliding_window (it belongs to token_bucket)', found: '1 (number)' },
  ]);
});

test('a programmatic store with an unknown engine reports the engine only', () => {
  const options = { engine: 'postgres', url: 'postgres://x' } as unknown as StoreOptions;
  assert.deepEqual(thrown(() => validateStoreOptions('db', options, {})).issues, [
    { path: 'engine', expected: '"memory" or "redis"', found: '"postgres" (string)' },
  ]);
});
