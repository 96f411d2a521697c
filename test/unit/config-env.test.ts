import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandEnv, expandString, parseConfig } from '../../src/config/index.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';

function issuesOf(text: string, env: NodeJS.ProcessEnv): readonly ConfigIssue[] {
  try {
    parseConfig(text, 'env.toml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues;
  }
  assert.fail('the configuration was accepted');
}

test('${VAR}, ${VAR:-default} and $$ are expanded; a bare $NAME is not', () => {
  const env = { HOST: 'db', EMPTY: '', PORT: '6380' };
  const value = (text: string): string => {
    const r = expandString(text, env);
    assert.deepEqual(r.issues, []);
    return r.value;
  };
  assert.equal(value('redis://${HOST}:${PORT}/0'), 'redis://db:6380/0');
  assert.equal(value('${MISSING:-fallback}'), 'fallback');
  assert.equal(value('${EMPTY:-used when empty}'), 'used when empty');
  assert.equal(value('${HOST:-unused}'), 'db');
  assert.equal(value('${MISSING:-}'), '');
  assert.equal(value('${EMPTY}'), '');
  assert.equal(value('${MISSING:-redis://h:1/0}'), 'redis://h:1/0');
  assert.equal(value('$${HOST}'), '${HOST}');
  assert.equal(value('pa$$word'), 'pa$word');
  assert.equal(value('pa$word $HOST $'), 'pa$word $HOST $');
  assert.deepEqual(expandString('${HOST}-${MISSING:-x}', env).variables, ['HOST', 'MISSING']);
  assert.deepEqual(expandString('$${HOST}', env).variables, []);
});

test('an unset ${VAR} and a malformed ${ are issues naming the variable and the key path', () => {
  const r = expandEnv({ stores: { main: { url: 'redis://${REDIS_HOST}/0' } }, bridge: { namespace: '${1BAD}', url: '${OPEN' } }, {});
  assert.deepEqual(r.issues, [
    {
      path: 'stores.main.url',
      expected: 'environment variable REDIS_HOST to be set (or a default: ${REDIS_HOST:-value})',
      found: 'REDIS_HOST unset in "redis://${REDIS_HOST}/0"',
    },
    { path: 'bridge.namespace', expected: '${NAME} or ${NAME:-default} (write $$ for a literal $)', found: '"${1BAD}" in "${1BAD}"' },
    { path: 'bridge.url', expected: '${NAME} or ${NAME:-default} (write $$ for a literal $)', found: '"${" in "${OPEN"' },
  ]);
});

test('expansion applies to keys and to strings at any depth, and records what it produced', () => {
  const tree = { limiters: { '${LIMITER_ID:-api_dynamic}': { store: '${S:-memory}', tags: ['${TAG}', 'x'] } } };
  const r = expandEnv(tree, { TAG: 'blue' });
  assert.deepEqual(r.value, { limiters: { api_dynamic: { store: 'memory', tags: ['blue', 'x'] } } });
  assert.deepEqual([...r.expansions.keys()], ['limiters.api_dynamic.store', 'limiters.api_dynamic.tags.0']);
  assert.deepEqual(r.expansions.get('limiters.api_dynamic.store'), {
    path: ['limiters', 'api_dynamic', 'store'], raw: '${S:-memory}', variables: ['S'],
  });
  assert.deepEqual(tree.limiters['${LIMITER_ID:-api_dynamic}'].tags, ['${TAG}', 'x'], 'the input is not modified');
});

test('two keys that expand to the same key are an issue', () => {
  const r = expandEnv({ limiters: { api: {}, '${ID:-api}': {} } }, {});
  assert.deepEqual(r.issues, [
    { path: 'limiters.api', expected: 'each key once (after environment expansion)', found: '"${ID:-api}" expanding to "api", a key already used' },
  ]);
});

test('a TOML file with expanded table names and store loads', () => {
  const text = '[limiters."${LIMITER_ID:-api_dynamic}"]\nstore = "${S:-memory}"\nrate_per_second = "${RATE:-2.5}"\n';
  const byDefault = parseConfig(text, 'env.toml', {});
  assert.deepEqual(byDefault.limiters.get('api_dynamic'), {
    id: 'api_dynamic', store: 'memory', algorithm: 'token_bucket', ratePerSecond: 2.5, burst: 1, failClosed: false, leaseSeconds: 60,
  });
  assert.deepEqual([...byDefault.stores.keys()], ['memory']);
  const fromEnv = parseConfig(text, 'env.toml', { LIMITER_ID: 'search', S: 'redis', REDIS_URL: 'redis://r:1/0' });
  assert.equal(fromEnv.limiters.get('search')?.store, 'redis');
  assert.deepEqual([...fromEnv.stores.keys()], ['redis']);
});

test('expanded strings become numbers and booleans where the schema wants them', () => {
  const text = `
[stores.main]
engine = "\${ENGINE:-redis}"
url = "\${REDIS_URL:-redis://127.0.0.1:6379/0}"
key_prefix = "\${PREFIX:-100}"
connect_timeout = "\${CT:-1e3}"
expected_hosts = "\${HOSTS:-3}"

[limiters.api]
store = "main"
algorithm = "sliding_window"
limit = "\${LIMIT:-100}"
window_seconds = "\${WINDOW}"
fail_closed = "\${FC:-false}"
timeout = "\${TIMEOUT:-0}"
`;
  const config = parseConfig(text, 'env.toml', { WINDOW: '2.5', FC: 'true' });
  assert.deepEqual(config.limiters.get('api'), {
    id: 'api', store: 'main', algorithm: 'sliding_window', limit: 100, windowSeconds: 2.5, timeout: 0,
    failClosed: true, leaseSeconds: 60,
  });
  const store = config.stores.get('main');
  assert.ok(store?.engine === 'redis');
  assert.equal(store.keyPrefix, '100', 'a string key stays a string even if it looks like a number');
  assert.equal(store.connectTimeout, 1000);
  assert.equal(store.expectedHosts, 3);
  assert.equal(parseConfig(text, 'env.toml', { WINDOW: '1', FC: 'false' }).limiters.get('api')?.failClosed, false);
});

test('an expanded value that is not a strict number or boolean is a type error naming the expansion', () => {
  const text = '[limiters.api]\nstore = "memory"\nrate_per_second = "${RATE}"\nmax_concurrent = "${MC:-2}"\nfail_closed = "${FC}"\nburst = "${BURST:--1}"\n';
  for (const [rate, mc, fc] of [['10abc', '0x10', 'yes'], ['', '1_000', 'TRUE'], [' 5', 'inf', '1']] as const) {
    assert.deepEqual(issuesOf(text, { RATE: rate, MC: mc, FC: fc }), [
      { path: 'limiters.api.rate_per_second', expected: 'a number > 0', found: `${JSON.stringify(rate)} (string, expanded from "\${RATE}")` },
      { path: 'limiters.api.burst', expected: 'a positive integer', found: '-1 (number, expanded from "${BURST:--1}")' },
      { path: 'limiters.api.max_concurrent', expected: 'a positive integer', found: `${JSON.stringify(mc)} (string, expanded from "\${MC:-2}")` },
      { path: 'limiters.api.fail_closed', expected: 'true or false', found: `${JSON.stringify(fc)} (string, expanded from "\${FC}")` },
    ]);
  }
});

test('an expansion is converted only where a number or boolean is wanted', () => {
  assert.deepEqual(issuesOf('[limiters.api]\nstore = "${S:-7}"\nmax_concurrent = 1\n', {}), [
    { path: 'limiters.api.store', expected: 'a declared store (none is declared), or "memory" / "redis" for one with defaults', found: '"7" (string, expanded from "${S:-7}")' },
  ]);
  assert.deepEqual(issuesOf('[stores.s]\nengine = "${E:-postgres}"\n', {}), [
    { path: 'stores.s.engine', expected: '"memory" or "redis"', found: '"postgres" (string, expanded from "${E:-postgres}")' },
  ]);
});

test('an unset variable is reported once, not again as a bad value, alongside the other problems', () => {
  const text = '[limiters."${LIMITER_ID}"]\nstore = "memory"\nrate_per_second = "${RATE}"\n[limiters.b]\nstore = "memory"\nrate_per_second = 0\n';
  assert.deepEqual(issuesOf(text, {}), [
    {
      path: 'limiters."${LIMITER_ID}"',
      expected: 'environment variable LIMITER_ID to be set (or a default: ${LIMITER_ID:-value})',
      found: 'LIMITER_ID unset in "${LIMITER_ID}"',
    },
    {
      path: 'limiters."${LIMITER_ID}".rate_per_second',
      expected: 'environment variable RATE to be set (or a default: ${RATE:-value})',
      found: 'RATE unset in "${RATE}"',
    },
    { path: 'limiters.b.rate_per_second', expected: 'a number > 0', found: '0 (number)' },
  ]);
});
