import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkCommand } from '../../src/cli/check.js';
import { configSearchPaths, discoverConfigFile, loadConfigFile } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';

const root = mkdtempSync(join(tmpdir(), 'rate-sync-config-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirs = 0;
/** A fresh directory holding `files` (relative path → content). */
function project(files: Record<string, string>): string {
  const dir = join(root, `p${dirs++}`);
  mkdirSync(join(dir, 'config'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function thrown(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('nothing was thrown');
}

const VALID = '[limiters.a]\nstore = "memory"\nmax_concurrent = 1\n';

test('discovery: RATE_SYNC_CONFIG, then ./rate-sync.toml, then ./config/rate-sync.toml', () => {
  const dir = project({ 'rate-sync.toml': VALID, 'config/rate-sync.toml': VALID, 'custom.toml': VALID });
  assert.equal(discoverConfigFile(dir, { RATE_SYNC_CONFIG: 'custom.toml' }), join(dir, 'custom.toml'));
  assert.equal(discoverConfigFile(dir, {}), join(dir, 'rate-sync.toml'));
  assert.equal(discoverConfigFile(dir, { RATE_SYNC_CONFIG: '' }), join(dir, 'rate-sync.toml'), 'empty counts as unset');
  rmSync(join(dir, 'rate-sync.toml'));
  assert.equal(discoverConfigFile(dir, {}), join(dir, 'config', 'rate-sync.toml'));
  rmSync(join(dir, 'config', 'rate-sync.toml'));
  assert.equal(discoverConfigFile(dir, {}), undefined);
});

test('RATE_SYNC_CONFIG pointing at no file is an error, not a fallback', () => {
  const dir = project({ 'rate-sync.toml': VALID });
  const err = thrown(() => discoverConfigFile(dir, { RATE_SYNC_CONFIG: 'missing.toml' }));
  assert.equal(err.source, 'the environment variable RATE_SYNC_CONFIG');
  assert.deepEqual(err.issues, [
    { path: '', expected: 'the path of an existing file', found: `"missing.toml" (no file at ${join(dir, 'missing.toml')})` },
  ]);
});

test('configSearchPaths lists what discovery tries, in order', () => {
  assert.deepEqual(configSearchPaths('/srv/app', {}), ['/srv/app/rate-sync.toml', '/srv/app/config/rate-sync.toml']);
  assert.deepEqual(configSearchPaths('/srv/app', { RATE_SYNC_CONFIG: '/etc/rs.toml' }), [
    '/etc/rs.toml', '/srv/app/rate-sync.toml', '/srv/app/config/rate-sync.toml',
  ]);
});

test('loadConfigFile names the file in every error', () => {
  const dir = project({ 'bad.toml': '[limiters.a]\nstore = "memory"\nrate_per_second = -1\n' });
  const missing = thrown(() => loadConfigFile(join(dir, 'nope.toml'), {}));
  assert.equal(missing.message, `Invalid rate-sync configuration in ${join(dir, 'nope.toml')}:\n  - expected a readable rate-sync.toml file, found no such file`);
  const unreadable = thrown(() => loadConfigFile(join(dir, 'config'), {}));
  assert.deepEqual(unreadable.issues, [{ path: '', expected: 'a readable rate-sync.toml file', found: 'an unreadable file (EISDIR)' }]);
  const invalid = thrown(() => loadConfigFile(join(dir, 'bad.toml'), {}));
  assert.equal(invalid.source, join(dir, 'bad.toml'));
  assert.equal(loadConfigFile(join(project({ 'ok.toml': VALID }), 'ok.toml'), {}).limiters.size, 1);
});

function run(file: string | undefined, cwd: string, env: NodeJS.ProcessEnv = {}): { code: number; out: string; err: string } {
  const out: string[] = [];
  const err: string[] = [];
  const code = checkCommand(file, { out: (s) => out.push(s), err: (s) => err.push(s), cwd, env });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('check prints a table of limiters and a line per store, exit 0', () => {
  const dir = project({
    'rate-sync.toml': `
[stores.main]
engine = "redis"
url = "redis://app:hunter2@db:6379/0"

[limiters.github_api]
store = "main"
algorithm = "sliding_window"
limit = 5000
window_seconds = 3600

[limiters.stripe]
store_id = "memory"
rate_per_second = 100
max_concurrent = 8
timeout = 30
fail_closed = true

[limiters.report]
store = "memory"
max_concurrent = 1

[bridge]
`,
  });
  const result = run(undefined, dir);
  assert.equal(result.err, '');
  assert.equal(result.code, 0);
  assert.equal(
    result.out,
    [
      `${join(dir, 'rate-sync.toml')}: OK (3 limiters, 2 stores)`,
      '',
      'limiter     store (engine)   algorithm       quota            max concurrent  timeout  on store failure',
      'github_api  main (redis)     sliding_window  5000 per 3600 s  -               -        local fallback',
      'stripe      memory (memory)  token_bucket    100/s, burst 1   8               30 s     -',
      'report      memory (memory)  token_bucket    -                1               -        -',
      '',
      'store main: redis redis://app:***@db:6379/0, key prefix "ratesync", timeouts 2 s connect / 1 s command, expected hosts 1',
      'store memory: memory',
      'bridge: redis://127.0.0.1:6379/0, namespace "ratesync"',
    ].join('\n'),
  );
});

test('check with a file argument resolves it against cwd', () => {
  const dir = project({ 'other.toml': VALID });
  const result = run('other.toml', dir);
  assert.equal(result.code, 0);
  assert.match(result.out, /^.*other\.toml: OK \(1 limiter, 1 store\)\n/);
});

test('check prints every problem to err and exits 1', () => {
  const dir = project({ 'rate-sync.toml': '[limiters.a]\nstore = "nowhere"\nrate_per_second = 0\n' });
  const result = run(undefined, dir);
  assert.equal(result.code, 1);
  assert.equal(result.out, '');
  assert.equal(
    result.err,
    `Invalid rate-sync configuration in ${join(dir, 'rate-sync.toml')} (2 problems):\n` +
      '  - limiters.a.rate_per_second: expected a number > 0, found 0 (number)\n' +
      '  - limiters.a.store: expected a declared store (none is declared), or "memory" / "redis" for one with defaults, found "nowhere" (string)',
  );
});

test('check without a file and nothing to discover lists the searched paths, exit 1', () => {
  const dir = project({});
  const result = run(undefined, dir, { RATE_SYNC_CONFIG: '' });
  assert.equal(result.code, 1);
  assert.equal(
    result.err,
    `No rate-sync configuration found. Searched:\n  - ${join(dir, 'rate-sync.toml')}\n  - ${join(dir, 'config', 'rate-sync.toml')}`,
  );
  const missingExplicit = run(undefined, dir, { RATE_SYNC_CONFIG: 'gone.toml' });
  assert.equal(missingExplicit.code, 1);
  assert.match(missingExplicit.err, /^Invalid rate-sync configuration in the environment variable RATE_SYNC_CONFIG:/);
  const missingArgument = run('gone.toml', dir);
  assert.equal(missingArgument.code, 1);
  assert.match(missingArgument.err, /gone\.toml:\n {2}- expected a readable rate-sync\.toml file, found no such file$/);
});

test('check reads the env it is given, not the process env', () => {
  const dir = project({ 'rate-sync.toml': '[limiters.a]\nstore = "memory"\nmax_concurrent = "${MC}"\n' });
  assert.equal(run(undefined, dir, { MC: '3' }).code, 0);
  assert.match(run(undefined, dir, {}).err, /MC unset/);
});
