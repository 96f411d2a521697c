/** The published package ships the Lua scripts next to the compiled store (and the store finds them there), the status page, and its subpath exports. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

test('npm pack includes every .lua script under dist/, identical to src/', () => {
  // The test run has just built dist/; --ignore-scripts packs that build as it is.
  const [pack] = JSON.parse(execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' })) as [
    { files: { path: string }[] },
  ];
  const packed = pack.files.map((f) => f.path).filter((p) => p.endsWith('.lua')).sort();
  const sources = readdirSync(new URL('../../src/stores/redis/lua', import.meta.url)).filter((f) => f.endsWith('.lua')).sort();
  assert.deepEqual(packed, sources.map((f) => `dist/stores/redis/lua/${f}`));
  for (const f of sources) {
    assert.equal(readFileSync(`${root}/dist/stores/redis/lua/${f}`, 'utf8'), readFileSync(`${root}/src/stores/redis/lua/${f}`, 'utf8'), `${f} is stale in dist/`);
  }
});

test('the compiled store loads its scripts from dist/', async () => {
  const { scriptSources } = (await import(new URL('../../dist/stores/redis/scripts.js', import.meta.url).href)) as {
    scriptSources(): Record<string, string>;
  };
  const scripts = scriptSources();
  assert.deepEqual(Object.keys(scripts).sort(), ['acquire', 'inspect', 'release', 'renew']);
  for (const [name, lua] of Object.entries(scripts)) {
    assert.match(lua, /local EPSILON_MS = 1e-4/, `${name} starts with the shared policy functions`);
    assert.match(lua, new RegExp(`^${name} \\(layout v1\\)`, 'm'), `${name} ends with its own entry script`);
  }
});

test('the package ships the status page and exports rate-sync/metrics', async () => {
  const [pack] = JSON.parse(execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' })) as [
    { files: { path: string }[] },
  ];
  const packed = new Set(pack.files.map((f) => f.path));
  assert.ok(packed.has('dist/status/page.html'), 'the page ratesync serve serves');
  assert.equal(readFileSync(`${root}/dist/status/page.html`, 'utf8'), readFileSync(`${root}/src/status/page.html`, 'utf8'), 'page.html is stale in dist/');
  // Resolved through package.json "exports", as a user's import is.
  const { createMetrics } = (await import('rate-sync/metrics' as string)) as { createMetrics: unknown };
  assert.equal(typeof createMetrics, 'function');
});
