import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig, type RateSyncConfig } from '../../src/config/index.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';

const LIMITER_KEYS =
  'one of the keys: store, store_id, algorithm, rate_per_second, burst, limit, window_seconds, max_concurrent, timeout, fail_closed, lease_seconds';

function load(text: string, env: NodeJS.ProcessEnv = {}): RateSyncConfig {
  return parseConfig(text, 'test.toml', env);
}

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): readonly ConfigIssue[] {
  try {
    load(text, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'ERR_RATE_SYNC_CONFIG');
    assert.equal(err.source, 'test.toml');
    return err.issues;
  }
  assert.fail('the configuration was accepted');
}

/** A limiter table on the implicit memory store, plus `body`. */
function limiterIssues(body: string): readonly ConfigIssue[] {
  return issuesOf(`[limiters.api]\nstore = "memory"\n${body}`);
}

test('the user guide file loads as written, with an implicit redis store', () => {
  const config = load(`
[limiters.github_api]
store_id = "redis"
algorithm = "sliding_window"
limit = 5000
window_seconds = 3600

[limiters.stripe_api]
store_id = "redis"
algorithm = "token_bucket"
rate_per_second = 100.0

[limiters.openai_api]
store_id = "redis"
algorithm = "sliding_window"
limit = 60
window_seconds = 60
`);
  assert.deepEqual(config.limiters.get('github_api'), {
    id: 'github_api', store: 'redis', algorithm: 'sliding_window', limit: 5000, windowSeconds: 3600,
    failClosed: false, leaseSeconds: 60,
  });
  assert.deepEqual(config.limiters.get('stripe_api'), {
    id: 'stripe_api', store: 'redis', algorithm: 'token_bucket', ratePerSecond: 100, burst: 1,
    failClosed: false, leaseSeconds: 60,
  });
  assert.deepEqual([...config.stores.values()], [{
    id: 'redis', engine: 'redis', url: 'redis://127.0.0.1:6379/0', keyPrefix: 'ratesync',
    connectTimeout: 2, commandTimeout: 1, expectedHosts: 1, cluster: false, clusterNodes: [],
  }]);
  assert.equal(config.source, 'test.toml');
  assert.equal(config.bridge, undefined);
});

test('an implicit redis store takes its url from REDIS_URL; an implicit memory store has no options', () => {
  const config = load('[limiters.a]\nstore = "redis"\nmax_concurrent = 2\n[limiters.b]\nstore = "memory"\nrate_per_second = 0.01\n', {
    REDIS_URL: 'rediss://cache:6380/2',
  });
  const redis = config.stores.get('redis');
  assert.ok(redis?.engine === 'redis');
  assert.equal(redis.url, 'rediss://cache:6380/2');
  assert.deepEqual(config.stores.get('memory'), { id: 'memory', engine: 'memory' });
  assert.equal(config.limiters.get('b')?.ratePerSecond, 0.01);
});

test('a declared store named "redis" wins over the implicit one', () => {
  const config = load('[stores.redis]\nengine = "memory"\n[limiters.a]\nstore = "redis"\nmax_concurrent = 1\n');
  assert.deepEqual([...config.stores.values()], [{ id: 'redis', engine: 'memory' }]);
});

test('every key of a redis store and a limiter is read, with the documented defaults', () => {
  const config = load(`
[stores.main]
engine = "redis"
url = "redis://:secret@db:6379/1"
key_prefix = "app:rl"
connect_timeout = 0.5
command_timeout = 0.25
expected_hosts = 3

[limiters.api]
store = "main"
rate_per_second = 2.5
burst = 10
max_concurrent = 4
timeout = 0
fail_closed = true
lease_seconds = 15

[bridge]
namespace = "jobs:eu"
`, { REDIS_URL: 'redis://bridge-host:6379/0' });
  assert.deepEqual(config.stores.get('main'), {
    id: 'main', engine: 'redis', url: 'redis://:secret@db:6379/1', keyPrefix: 'app:rl',
    connectTimeout: 0.5, commandTimeout: 0.25, expectedHosts: 3, cluster: false, clusterNodes: [],
  });
  assert.deepEqual(config.limiters.get('api'), {
    id: 'api', store: 'main', algorithm: 'token_bucket', ratePerSecond: 2.5, burst: 10, maxConcurrent: 4,
    timeout: 0, failClosed: true, leaseSeconds: 15,
  });
  assert.deepEqual(config.bridge, { url: 'redis://bridge-host:6379/0', namespace: 'jobs:eu' });
  assert.deepEqual(load('[bridge]\n').bridge, { url: 'redis://127.0.0.1:6379/0', namespace: 'ratesync' });
});

test('a concurrency-only token bucket has no rate and no burst', () => {
  const config = load('[limiters.report]\nstore = "memory"\nmax_concurrent = 1\n');
  assert.deepEqual(config.limiters.get('report'), {
    id: 'report', store: 'memory', algorithm: 'token_bucket', maxConcurrent: 1, failClosed: false, leaseSeconds: 60,
  });
});

test('a TOML syntax error keeps the line and column of the parser', () => {
  const err = (() => {
    try {
      load('[limiters.a]\nstore = "memory"\nlimit = \n');
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof ConfigError);
  assert.deepEqual(err.issues, [{ path: '', expected: 'valid TOML', found: 'TOML syntax error at line 3, column 9: invalid value' }]);
  assert.equal(err.message, 'Invalid rate-sync configuration in test.toml:\n  - expected valid TOML, found TOML syntax error at line 3, column 9: invalid value');
});

test('all the problems of a file are reported at once, in one ConfigError', () => {
  const err = (() => {
    try {
      load(`
[stores.cache]
engine = "redis"
url = "http://cache"

[limiters.a]
store = "cache"
rate_per_second = -1

[limiters.b]
store = "cache"
algorithm = "leaky"
`);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof ConfigError);
  assert.equal(
    err.message,
    'Invalid rate-sync configuration in test.toml (3 problems):\n' +
      '  - stores.cache.url: expected a redis:// or rediss:// URL, found "http://cache" (string)\n' +
      '  - limiters.a.rate_per_second: expected a number > 0, found -1 (number)\n' +
      '  - limiters.b.algorithm: expected "token_bucket" or "sliding_window", found "leaky" (string)',
  );
});

test('the top level takes only stores, limiters and bridge tables', () => {
  assert.deepEqual(issuesOf('[limiter.a]\nstore = "memory"\n'), [
    { path: 'limiter', expected: 'one of the keys: stores, limiters, bridge', found: 'unknown key "limiter"; did you mean "limiters"?' },
  ]);
  assert.deepEqual(issuesOf('stores = 5\nbridge = "x"\n'), [
    { path: 'stores', expected: 'a table of stores ([stores.<id>] sections)', found: '5 (number)' },
    { path: 'bridge', expected: 'a table', found: '"x" (string)' },
  ]);
  assert.deepEqual(issuesOf('[limiters]\napi = 1\n'), [{ path: 'limiters.api', expected: 'a table', found: '1 (number)' }]);
});

test('store engines: required, memory or redis, and memory takes no other key', () => {
  assert.deepEqual(issuesOf('[stores.a]\n[stores.b]\nengine = "postgres"\n[stores.c]\nengine = "memory"\nurl = "redis://x"\n'), [
    { path: 'stores.a.engine', expected: '"memory" or "redis"', found: 'nothing' },
    { path: 'stores.b.engine', expected: '"memory" or "redis"', found: '"postgres" (string)' },
    { path: 'stores.c.url', expected: 'no key other than engine', found: 'unknown key "url"' },
  ]);
});

test('redis store keys are checked one by one', () => {
  assert.deepEqual(
    issuesOf(`[stores.r]
engine = "redis"
url = "redis//nohost"
key_prefix = "has space"
connect_timeout = 0
command_timeout = -1
expected_hosts = 1.5
socket_timeout = 5
`),
    [
      { path: 'stores.r.url', expected: 'a redis:// or rediss:// URL', found: '"redis//nohost" (string)' },
      { path: 'stores.r.key_prefix', expected: 'a non-empty string without whitespace', found: '"has space" (string)' },
      { path: 'stores.r.connect_timeout', expected: 'a number > 0', found: '0 (number)' },
      { path: 'stores.r.command_timeout', expected: 'a number > 0', found: '-1 (number)' },
      { path: 'stores.r.expected_hosts', expected: 'a positive integer', found: '1.5 (number)' },
      {
        path: 'stores.r.socket_timeout',
        expected: 'one of the keys: engine, url, key_prefix, connect_timeout, command_timeout, expected_hosts, cluster, cluster_nodes',
        found: 'unknown key "socket_timeout"',
      },
    ],
  );
  assert.deepEqual(issuesOf('[stores.r]\nengine = "redis"\nkey_prefix = ""\n'), [
    { path: 'stores.r.key_prefix', expected: 'a non-empty string without whitespace', found: '"" (string)' },
  ]);
});

test('a Redis Cluster store: cluster = true, more seeds in cluster_nodes, database 0 only', () => {
  const config = load(`
[stores.c]
engine = "redis"
url = "rediss://app:pw@node-a:7000"
cluster = true
cluster_nodes = ["rediss://node-b:7000", "rediss://node-c:7000/0"]
`);
  const store = config.stores.get('c');
  assert.ok(store?.engine === 'redis');
  assert.equal(store.cluster, true);
  assert.deepEqual(store.clusterNodes, ['rediss://node-b:7000', 'rediss://node-c:7000/0']);
  assert.deepEqual(
    issuesOf(`[stores.c]
engine = "redis"
url = "redis://h:7000/2"
cluster = "yes"
cluster_nodes = ["h2:7000"]

[stores.d]
engine = "redis"
url = "redis://h:7000/2"
cluster = true

[stores.e]
engine = "redis"
cluster_nodes = ["redis://h2:7000"]
`),
    [
      { path: 'stores.c.cluster', expected: 'true or false', found: '"yes" (string)' },
      { path: 'stores.c.cluster_nodes.0', expected: 'a redis:// or rediss:// URL', found: '"h2:7000" (string)' },
      { path: 'stores.d.url', expected: 'a URL without a database number (a Redis Cluster has database 0 only)', found: '"redis://h:7000/2" (string)' },
      { path: 'stores.e.cluster_nodes', expected: 'no cluster_nodes without cluster = true', found: 'an array' },
    ],
  );
});

test('a Redis URL names its database by number; key_prefix leaves hash tags to the store', () => {
  assert.deepEqual(issuesOf('[stores.r]\nengine = "redis"\nurl = "redis://h:6379/cache"\nkey_prefix = "{app}"\n'), [
    { path: 'stores.r.url', expected: 'a redis:// or rediss:// URL', found: '"redis://h:6379/cache" (string)' },
    {
      path: 'stores.r.key_prefix',
      expected: 'a prefix without "{" or "}" (the store puts a hash tag of its own in every key)',
      found: '"{app}" (string)',
    },
  ]);
  assert.equal((load('[stores.r]\nengine = "redis"\nurl = "redis://h"\n').stores.get('r') as { url: string }).url, 'redis://h');
});

test('ids must be 1 to 128 safe characters, without ":"', () => {
  const expected = 'an id of 1 to 128 letters, digits, "_", "." or "-" (not ":", which separates a limiter from its clone key)';
  assert.deepEqual(issuesOf(`[stores."a:b"]\nengine = "memory"\n[limiters."x y"]\nstore = "memory"\nmax_concurrent = 1\n[limiters.${'l'.repeat(129)}]\nstore = "memory"\nmax_concurrent = 1\n`), [
    { path: 'stores."a:b"', expected, found: '"a:b"' },
    { path: 'limiters."x y"', expected, found: '"x y"' },
    { path: `limiters.${'l'.repeat(129)}`, expected, found: `"${'l'.repeat(129)}"` },
  ]);
  assert.deepEqual(issuesOf('[limiters.__proto__]\nstore = "memory"\nmax_concurrent = 1\n'), [
    { path: 'limiters.__proto__', expected, found: '"__proto__"' },
  ]);
  const ok = load(`[limiters."api.v2-eu_1"]\nstore = "memory"\nmax_concurrent = 1\n[limiters.${'l'.repeat(128)}]\nstore = "memory"\nmax_concurrent = 1\n`);
  assert.equal(ok.limiters.size, 2);
});

test('an invalid id does not hide the problems inside its table', () => {
  assert.deepEqual(issuesOf('[limiters."a:b"]\nstore = "memory"\nrate_per_second = 0\n').map((i) => i.path), [
    'limiters."a:b"',
    'limiters."a:b".rate_per_second',
  ]);
});

test('the store of a limiter: required, once, and declared or named after an engine', () => {
  assert.deepEqual(issuesOf('[limiters.a]\nmax_concurrent = 1\n'), [
    { path: 'limiters.a.store', expected: 'the id of a declared store, or "memory" / "redis" for one with defaults', found: 'nothing' },
  ]);
  assert.deepEqual(issuesOf('[limiters.a]\nstore = "memory"\nstore_id = "redis"\nmax_concurrent = 1\n'), [
    { path: 'limiters.a.store_id', expected: 'either store or store_id (two names of one key)', found: 'both store ("memory") and store_id ("redis")' },
  ]);
  assert.deepEqual(issuesOf('[stores.main]\nengine = "memory"\n[stores.cache]\nengine = "memory"\n[limiters.a]\nstore_id = "mian"\nmax_concurrent = 1\n'), [
    { path: 'limiters.a.store_id', expected: 'a declared store (declared: main, cache), or "memory" / "redis" for one with defaults', found: '"mian" (string)' },
  ]);
  assert.deepEqual(issuesOf('[limiters.a]\nstore = "postgres"\nmax_concurrent = 1\n'), [
    { path: 'limiters.a.store', expected: 'a declared store (none is declared), or "memory" / "redis" for one with defaults', found: '"postgres" (string)' },
  ]);
  assert.deepEqual(issuesOf('[limiters.a]\nstore = 3\nmax_concurrent = 1\n')[0]?.found, '3 (number)');
});

test('an unknown algorithm is an error, never a silent token bucket', () => {
  assert.deepEqual(limiterIssues('algorithm = "leaky_bucket"\nrate_per_second = 1\n'), [
    { path: 'limiters.api.algorithm', expected: '"token_bucket" or "sliding_window"', found: '"leaky_bucket" (string)' },
  ]);
});

test('limiter numbers: rates and windows > 0 (fractions ok), counts positive integers, timeout >= 0', () => {
  assert.deepEqual(limiterIssues('rate_per_second = 0\nburst = 1.5\nmax_concurrent = 0\ntimeout = -0.5\nlease_seconds = inf\n'), [
    { path: 'limiters.api.rate_per_second', expected: 'a number > 0', found: '0 (number)' },
    { path: 'limiters.api.burst', expected: 'a positive integer', found: '1.5 (number)' },
    { path: 'limiters.api.max_concurrent', expected: 'a positive integer', found: '0 (number)' },
    { path: 'limiters.api.timeout', expected: 'a number >= 0', found: '-0.5 (number)' },
    { path: 'limiters.api.lease_seconds', expected: 'a number > 0', found: 'inf (number)' },
  ]);
  assert.deepEqual(limiterIssues('algorithm = "sliding_window"\nlimit = 0\nwindow_seconds = nan\n'), [
    { path: 'limiters.api.limit', expected: 'a positive integer', found: '0 (number)' },
    { path: 'limiters.api.window_seconds', expected: 'a number > 0', found: 'nan (number)' },
  ]);
  assert.deepEqual(limiterIssues('max_concurrent = 1\nfail_closed = 1\ntimeout = 1979-05-27\n'), [
    { path: 'limiters.api.timeout', expected: 'a number >= 0', found: '1979-05-27 (date)' },
    { path: 'limiters.api.fail_closed', expected: 'true or false', found: '1 (number)' },
  ]);
  const ok = load('[limiters.w]\nstore = "memory"\nalgorithm = "sliding_window"\nlimit = 3\nwindow_seconds = 0.5\nmax_concurrent = 2\n');
  assert.deepEqual(ok.limiters.get('w'), {
    id: 'w', store: 'memory', algorithm: 'sliding_window', limit: 3, windowSeconds: 0.5, maxConcurrent: 2,
    failClosed: false, leaseSeconds: 60,
  });
});

test('a quoted number or boolean written in the file is a type error that says to remove the quotes', () => {
  assert.deepEqual(limiterIssues('rate_per_second = "10"\nfail_closed = "false"\n'), [
    { path: 'limiters.api.rate_per_second', expected: 'a number > 0', found: '"10" (string) — remove the quotes to make it a number' },
    { path: 'limiters.api.fail_closed', expected: 'true or false', found: '"false" (string) — remove the quotes to make it a boolean' },
  ]);
  assert.deepEqual(limiterIssues('rate_per_second = "ten"\n'), [
    { path: 'limiters.api.rate_per_second', expected: 'a number > 0', found: '"ten" (string)' },
  ]);
});

test('token_bucket: needs a rate or a concurrency, and rejects sliding-window keys', () => {
  assert.deepEqual(limiterIssues('timeout = 1\n'), [
    { path: 'limiters.api.rate_per_second', expected: 'a number > 0 (a token_bucket needs rate_per_second, max_concurrent or both)', found: 'nothing' },
  ]);
  assert.deepEqual(limiterIssues('rate_per_second = 5\nlimit = 100\nwindow_seconds = 60\n'), [
    { path: 'limiters.api.limit', expected: 'no limit on a token_bucket (it belongs to sliding_window)', found: '100 (number)' },
    { path: 'limiters.api.window_seconds', expected: 'no window_seconds on a token_bucket (it belongs to sliding_window)', found: '60 (number)' },
  ]);
  assert.deepEqual(limiterIssues('max_concurrent = 2\nburst = 5\n'), [
    { path: 'limiters.api.burst', expected: "no burst without rate_per_second (burst sizes the rate's bucket)", found: '5 (number)' },
  ]);
});

test('sliding_window: needs both limit and window_seconds, and rejects token-bucket keys', () => {
  assert.deepEqual(limiterIssues('algorithm = "sliding_window"\nlimit = 10\n'), [
    { path: 'limiters.api.window_seconds', expected: 'a number > 0 (a sliding_window needs limit and window_seconds)', found: 'nothing' },
  ]);
  assert.deepEqual(limiterIssues('algorithm = "sliding_window"\nwindow_seconds = 10\nrate_per_second = 1\nburst = 2\n'), [
    { path: 'limiters.api.rate_per_second', expected: 'no rate_per_second on a sliding_window (it belongs to token_bucket)', found: '1 (number)' },
    { path: 'limiters.api.burst', expected: 'no burst on a sliding_window (it belongs to token_bucket)', found: '2 (number)' },
    { path: 'limiters.api.limit', expected: 'a positive integer (a sliding_window needs limit and window_seconds)', found: 'nothing' },
  ]);
});

test('unknown limiter keys are errors, with the nearest valid key when it looks like a typo', () => {
  assert.deepEqual(limiterIssues('max_concurrent = 1\nrate = 5\nbrust = 2\nrate_per_secnd = 1\nratePerSecond = 1\nbackend = "x"\n'), [
    { path: 'limiters.api.rate', expected: LIMITER_KEYS, found: 'unknown key "rate"; did you mean "rate_per_second"?' },
    { path: 'limiters.api.brust', expected: LIMITER_KEYS, found: 'unknown key "brust"; did you mean "burst"?' },
    { path: 'limiters.api.rate_per_secnd', expected: LIMITER_KEYS, found: 'unknown key "rate_per_secnd"; did you mean "rate_per_second"?' },
    { path: 'limiters.api.ratePerSecond', expected: LIMITER_KEYS, found: 'unknown key "ratePerSecond"; did you mean "rate_per_second"?' },
    { path: 'limiters.api.backend', expected: LIMITER_KEYS, found: 'unknown key "backend"' },
  ]);
});

test('the bridge takes a redis url and a namespace', () => {
  assert.deepEqual(issuesOf('[bridge]\nurl = "localhost:6379"\nnamespace = "has space"\nprefix = "x"\n'), [
    { path: 'bridge.url', expected: 'a redis:// or rediss:// URL', found: '"localhost:6379" (string)' },
    { path: 'bridge.namespace', expected: '1 to 64 letters, digits, "_", ".", ":" or "-"', found: '"has space" (string)' },
    { path: 'bridge.prefix', expected: 'one of the keys: url, namespace', found: 'unknown key "prefix"' },
  ]);
});

test('a bad REDIS_URL is reported once, naming what would use it', () => {
  const text = '[stores.cache]\nengine = "redis"\n[limiters.a]\nstore = "redis"\nmax_concurrent = 1\n[bridge]\n';
  assert.deepEqual(issuesOf(text, { REDIS_URL: 'cache:6379' }), [
    {
      path: '',
      expected: 'REDIS_URL to be a redis:// or rediss:// URL (it is the url of store "cache", the implicit store "redis", the bridge)',
      found: '"cache:6379" (from REDIS_URL)',
    },
  ]);
  // Unused, it is not checked: every redis url here is explicit.
  const config = load('[stores.cache]\nengine = "redis"\nurl = "redis://c"\n', { REDIS_URL: 'cache:6379' });
  assert.equal(config.stores.size, 1);
});
