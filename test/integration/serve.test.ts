/**
 * `ratesync serve` around the coordinator: configuration reload on SIGHUP (good file applied,
 * bad file rejected with every problem, waiters and leases kept), the metrics port, and
 * `ratesync status` against a real serve process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { serve } from '../../src/cli/serve.js';
import { LimiterNotFoundError } from '../../src/index.js';
import type { StatusReport } from '../../src/status/report.js';
import { freePort } from '../../scripts/lib/redis.mjs';
import { CLI, runCli, startServe } from '../helpers/serve-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function configFile(text: string): { path: string; write(text: string): void } {
  const path = join(mkdtempSync(join(tmpdir(), 'ratesync-serve-')), 'rate-sync.toml');
  writeFileSync(path, text);
  return { path, write: (t) => writeFileSync(path, t) };
}

async function status(url: string): Promise<StatusReport> {
  return (await (await fetch(`${url}/status.json`)).json()) as StatusReport;
}

test('SIGHUP: a good file is applied, a bad one is rejected with all its problems and the old one stays', async () => {
  const file = configFile('[limiters.api]\nstore = "memory"\nrate_per_second = 10\n\n[limiters.slots]\nstore = "memory"\nmax_concurrent = 2\n');
  const serving = await startServe(file.path);
  try {
    assert.deepEqual((await status(serving.url)).limiters.map((l) => [l.id, l.quota]), [['api', '10/s, burst 1'], ['slots', '2 at once']]);

    file.write('[limiters.api]\nstore = "memory"\nrate_per_second = 20\nburst = 4\n\n[limiters.extra]\nstore = "memory"\nalgorithm = "sliding_window"\nlimit = 5\nwindow_seconds = 60\n');
    let from = serving.lines.length;
    serving.child.kill('SIGHUP');
    const applied = await serving.waitFor('reload', from);
    assert.deepEqual([applied['limitersAdded'], applied['limitersRemoved'], applied['limitersChanged']], [['extra'], ['slots'], ['api']]);
    assert.deepEqual((await status(serving.url)).limiters.map((l) => [l.id, l.quota]), [['api', '20/s, burst 4'], ['extra', '5 per 60 s']]);

    file.write('[limiters.api]\nstore = "memory"\nrate_per_second = -1\n\n[limiters.other]\nstore = "memory"\nrate_per_second = 1\nbrust = 3\n');
    from = serving.lines.length;
    serving.child.kill('SIGHUP');
    const rejected = await serving.waitFor('reload_rejected', from);
    const issues = rejected['issues'] as { path: string }[];
    assert.deepEqual(issues.map((i) => i.path).sort(), ['limiters.api.rate_per_second', 'limiters.other.brust']);
    assert.match(rejected['error'] as string, /2 problems/);
    assert.deepEqual((await status(serving.url)).limiters.map((l) => l.id), ['api', 'extra'], 'the old configuration stays');

    file.write('[limiters.api]\nstore = "memory"\nrate_per_second = 20\n\n[bridge]\nurl = "redis://127.0.0.1:1/0"\nnamespace = "x"\n');
    from = serving.lines.length;
    serving.child.kill('SIGHUP');
    assert.match((await serving.waitFor('reload_rejected', from))['error'] as string, /\[bridge\] table changed.*restart/);
    assert.equal(serving.child.exitCode, null, 'still serving');
  } finally {
    assert.equal(await serving.stop(), 0);
  }
});

test('reload keeps the waiters and leases of limiters that remain; waiters of removed ones are told', async () => {
  const file = configFile('[limiters.slots]\nstore = "memory"\nmax_concurrent = 1\n\n[limiters.gone]\nstore = "memory"\nrate_per_second = 0.001\n');
  const lines: string[] = [];
  const server = await serve({ config: file.path, out: (l) => lines.push(l), http: { port: 0 } });
  try {
    const slots = await server.rateSync.getLimiter('slots');
    const gone = await server.rateSync.getLimiter('gone');
    const held = await slots.acquire();
    const queued = slots.acquire({ timeoutMs: 10_000 });
    await gone.acquire();
    const orphan = gone.acquire().catch((err: unknown) => err);

    file.write('[limiters.slots]\nstore = "memory"\nmax_concurrent = 1\nlease_seconds = 30\n\n[limiters.api]\nstore = "memory"\nrate_per_second = 5\n');
    assert.equal(await server.reload(), true);
    const err = await orphan;
    assert.ok(err instanceof LimiterNotFoundError, String(err));
    assert.match(err.message, /removed by a configuration reload/);
    assert.equal(await slots.tryAcquire({ timeoutMs: 0 }), null, 'the lease taken before the reload still counts');
    assert.equal((await slots.metrics()).inFlight, 1);
    assert.equal((await slots.metrics()).waiting, 1, 'the waiter is still queued');
    held.release();
    const next = await queued;
    assert.equal((await slots.metrics()).acquisitions, 2, 'counters survive the reload');
    next.release();

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^ratesync_grants_total\{limiter="slots"\} 2$/m);
    assert.match(metrics, /^ratesync_refusals_total\{limiter="slots"\} 1$/m);
    assert.match(metrics, /^ratesync_quota_per_second\{limiter="api"\} 5$/m);
    assert.doesNotMatch(metrics, /limiter="gone"/);
    assert.match(metrics, /^process_cpu_seconds_total /m, 'and the process metrics');
  } finally {
    await server.stop('test over');
  }
  assert.ok(lines.some((l) => JSON.parse(l).event === 'reload'));
});

test('the metrics port: the page, /status.json, /metrics, /healthz; 404 and 405 otherwise; loopback by default', async () => {
  const file = configFile('[limiters.api]\nstore = "memory"\nrate_per_second = 100\n');
  const server = await serve({ config: file.path, out: () => undefined, http: { port: 0 } });
  try {
    assert.match(server.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /<title>rate-sync status<\/title>/);
    assert.equal(await (await fetch(`${server.url}/healthz`)).text(), 'ok\n');
    assert.equal((await fetch(`${server.url}/nope`)).status, 404);
    assert.equal((await fetch(`${server.url}/status.json`, { method: 'POST' })).status, 405);
    const api = await server.rateSync.getLimiter('api');
    for (let i = 0; i < 5; i++) await api.acquire();
    const report = (await (await fetch(`${server.url}/status.json`)).json()) as StatusReport;
    assert.equal(report.limiters[0]?.grants.total, 5);
    // A second serve on the same port is refused with a clear error.
    const port = Number(new URL(server.url as string).port);
    await assert.rejects(serve({ config: file.path, out: () => undefined, http: { port } }), /metrics port 127\.0\.0\.1:\d+ is in use/);
  } finally {
    await server.stop('test over');
  }
});

test('while a Redis store is unreachable, metrics and the status report show the fallback mode', async () => {
  const port = await freePort(); // nothing listens there
  const file = configFile(
    `[stores.shared]\nengine = "redis"\nurl = "redis://127.0.0.1:${port}/0"\nconnect_timeout = 0.2\n\n` +
      '[limiters.open]\nstore = "shared"\nrate_per_second = 100\n\n[limiters.strict]\nstore = "shared"\nrate_per_second = 100\nfail_closed = true\n',
  );
  const lines: Record<string, unknown>[] = [];
  const server = await serve({ config: file.path, out: (l) => lines.push(JSON.parse(l) as Record<string, unknown>), http: { port: 0 } });
  try {
    await (await server.rateSync.getLimiter('open')).acquire();
    await assert.rejects((await server.rateSync.getLimiter('strict')).acquire(), /fail_closed/);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^ratesync_fallback_active\{limiter="open"\} 1$/m);
    assert.match(metrics, /^ratesync_fallback_active\{limiter="strict"\} 0$/m, 'a fail_closed limiter refuses, it has no fallback');
    assert.match(metrics, /^ratesync_fallback_grants_total\{limiter="open"\} 1$/m);
    assert.match(metrics, /^ratesync_store_errors_total\{limiter="strict"\} 1$/m);
    assert.match(metrics, /^ratesync_store_up\{store="shared"\} 0$/m);
    assert.match(metrics, /^ratesync_store_outages_total\{store="shared"\} 1$/m);
    const report = (await (await fetch(`${server.url}/status.json`)).json()) as StatusReport;
    assert.deepEqual(report.limiters.map((l) => [l.id, l.fallback]), [['open', true], ['strict', false]]);
    assert.equal(report.stores[0]?.status?.mode, 'down');
    assert.ok(lines.some((l) => l['event'] === 'store_unavailable' && l['store'] === 'shared'), 'logged');
  } finally {
    await server.stop('test over');
  }
});

test('ratesync status: a clear error and exit status 1 when nothing runs there', async () => {
  const port = await freePort();
  const r = runCli(['status', '--url', `http://127.0.0.1:${port}`]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`no ratesync serve answers at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\\. Start one with \`ratesync serve\``));
  const json = runCli(['status', '--json', '--url', String(port)]); // a bare port means 127.0.0.1
  assert.equal(json.status, 1);
  assert.equal(json.stdout, '');
  assert.match(json.stderr, new RegExp(`no ratesync serve answers at http://127\\.0\\.0\\.1:${port} `));
});

test('ratesync status against a serve process: table, --json, and --watch redrawing every second', async () => {
  const file = configFile('[limiters.api]\nstore = "memory"\nrate_per_second = 50\nburst = 5\n\n[limiters.slots]\nstore = "memory"\nmax_concurrent = 4\n');
  const serving = await startServe(file.path);
  try {
    const table = runCli(['status', '--url', serving.url]);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^api +50\/s, burst 5 +0 +0 +5 +0 +0 +0 +0 +- +no$/m);
    assert.match(table.stdout, /^slots +4 at once /m);
    const json = runCli(['status', '--json', '--keys', '2', '--url', serving.url]);
    assert.equal(json.status, 0, json.stderr);
    const report = JSON.parse(json.stdout) as StatusReport;
    assert.equal(report.version, 1);
    assert.equal(report.coordinator.pid, serving.child.pid);
    assert.equal(report.coordinator.config, file.path);
    assert.deepEqual(Object.keys(report.limiters[0] ?? {}).sort(), [
      'algorithm', 'cancellations', 'clones', 'fallback', 'grants', 'history', 'id', 'inFlight', 'keys', 'maxConcurrent',
      'quota', 'quotaPerSecond', 'refusals', 'remaining', 'store', 'storeErrors', 'timeouts', 'waitP99Ms', 'waiting',
    ]);
    assert.equal(report.limiters[0]?.history.length, 300);
    assert.equal(report.bridge, null);

    const watch = spawn(process.execPath, [CLI, 'status', '--watch', '--url', serving.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    watch.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await sleep(2500);
    watch.kill('SIGINT');
    await new Promise((r) => watch.once('exit', r));
    const frames = out.split(/^ratesync status {2}/m).filter((f) => f.trim() !== '');
    assert.ok(frames.length >= 2 && frames.length <= 4, `${frames.length} frames in 2.5 s`);
    assert.ok(frames.every((f) => /^api +50\/s/m.test(f)), 'each frame is a whole table');
    assert.doesNotMatch(out, /\x1b\[/, 'no cursor control when stdout is not a terminal');
  } finally {
    assert.equal(await serving.stop(), 0);
  }
});
