/**
 * examples/shared-quota as users run it: plain JavaScript importing the built package (dist/),
 * a piscina pool and two cluster forks sharing one quota.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

test('the shared-quota example: a piscina pipeline and a cluster stay within one quota together', () => {
  const main = new URL('../../examples/shared-quota/main.mjs', import.meta.url).pathname;
  const r = spawnSync(process.execPath, [main, '--jobs', '120'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /120 addresses geocoded in [\d.]+ s by 6 threads and processes/);
  assert.match(r.stdout, /the quota was never exceeded/);
});
