/**
 * The `ratesync` command as users run it: from the built package (dist/), as `npm start` does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

test('ratesync demo: a piscina pool and cluster forks run a batch on one set of quotas, and no API sees a request over quota', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ratesync-demo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // At ×24 OpenAI's 60/min is 60 per 2.5 s: far too little for 375 summaries, however fast the machine.
  const r = ratesync(['demo', '--jobs', '1500', '--speed', '24'], dir);
  assert.equal(r.code, 0, r.err);
  // Not a TTY: plain progress lines instead of bars.
  assert.match(r.out, /jobs \d+\/1500 {2}stripe_api \d+ granted/);
  // Every job charged once, 4 in 5 opened an issue: the coordinator's grants, counted by the APIs.
  assert.match(r.out, /stripe_api\s+100\/s, burst 20\s+multi-service, requeue\s+1500\s/);
  assert.match(r.out, /github_api\s+5000 \/ 3600 s\s+requeue on timeout\s+1200\s/);
  const [, granted, refused] = /openai_api\s+60 \/ 60 s\s+skip on timeout\s+(\d+)\s+(\d+)\s/.exec(r.out) ?? [];
  assert.equal(Number(granted) + Number(refused), 375, r.out);
  assert.ok(Number(refused) > 0, r.out);
  assert.match(r.out, new RegExp(`1500 jobs done, ${refused} summaries skipped`));
  const workers = /Jobs per worker — (.*)\./.exec(r.out)?.[1] ?? '';
  assert.equal((workers.match(/piscina thread \d+: \d+/g) ?? []).length, 2, workers);
  assert.equal((workers.match(/cluster fork \d+: \d+/g) ?? []).length, 2, workers);
  assert.match(r.out, /The APIs answered every request: no quota was exceeded\./);
  // The HTML report, in the working directory by default.
  const report = join(dir, 'demo-report.html');
  assert.match(r.out, new RegExp(`Report with charts: file://${report}`));
  const html = readFileSync(report, 'utf8');
  assert.equal((html.match(/<svg /g) ?? []).length, 6);
  assert.match(html, /no quota was exceeded/);
});

test('ratesync demo --no-report writes no file, and bad options are refused', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ratesync-demo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = ratesync(['demo', '--jobs', '200', '--threads', '0', '--forks', '1', '--no-report'], dir);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Jobs per worker — cluster fork \d+: 200\./);
  assert.deepEqual(readdirSync(dir), []);
  const bad = ratesync(['demo', '--threads', '0', '--forks', '0'], dir);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /--threads and --forks cannot both be 0/);
});
