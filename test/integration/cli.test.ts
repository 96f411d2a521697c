/**
 * The `ratesync` command as users run it: from the built package (dist/), as `npm start` does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const examples = new URL('../../examples/rate-sync.toml', import.meta.url).pathname;

function ratesync(args: string[], cwd = process.cwd()) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, RATE_SYNC_CONFIG: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('ratesync check shows the limiters of a valid file', () => {
  const r = ratesync(['check', examples]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /OK \(6 limiters, 1 store\)/);
  assert.match(r.out, /github_api\s+main \(memory\)\s+sliding_window\s+5000 per 3600 s/);
});

test('ratesync check lists every problem of a bad file and exits 1', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ratesync-check-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'rate-sync.toml'),
    '[limiters.a]\nstore = "memory"\nrate_per_second = -1\n\n[limiters.b]\nstore = "memory"\nalgorithm = "leaky"\n',
  );
  const r = ratesync(['check'], dir);
  assert.equal(r.code, 1);
  assert.match(r.err, /limiters\.a\.rate_per_second: expected a number > 0, found -1/);
  assert.match(r.err, /limiters\.b\.algorithm: expected "token_bucket" or "sliding_window", found "leaky"/);
});

test('ratesync demo runs a batch on the memory store and no API sees a request over quota', () => {
  const r = ratesync(['demo', '--jobs', '1500']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /github_api\s+5000 \/ 3600 s/);
  assert.match(r.out, /1500 jobs done/);
  assert.match(r.out, /no quota was exceeded/);
});
