/**
 * `ratesync serve` with the Celery bridge on a real Redis: the "memory store means exactly one
 * coordinator" flag follows configuration reloads, and status and metrics show the bridge's
 * clients and garbage while they are served.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { serve } from '../../src/cli/serve.js';
import type { StatusReport } from '../../src/status/report.js';
import { TestBridgeClient } from '../helpers/bridge-client.js';
import { redisSkip, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { runCli, startServe } from '../helpers/serve-process.js';

const url = sharedRedisUrl as string;

function files(ns: string, prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), 'ratesync-serve-bridge-'));
  const bridge = `[bridge]\nurl = "${url}"\nnamespace = "${ns}"\n`;
  const redisStore = `[stores.shared]\nengine = "redis"\nurl = "${url}"\nkey_prefix = "${prefix}"\n`;
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  return {
    allRedis: () => `${redisStore}\n[limiters.api]\nstore = "shared"\nrate_per_second = 10\n\n${bridge}`,
    withMemory: () => `${redisStore}\n[limiters.api]\nstore = "shared"\nrate_per_second = 10\n\n[limiters.local]\nstore = "memory"\nmax_concurrent = 2\n\n${bridge}`,
    write,
  };
}

test('reload recomputes whether this coordinator must serve the bridge namespace alone', { skip: redisSkip }, async () => {
  const ns = `t${randomBytes(5).toString('hex')}`;
  const f = files(ns, uniquePrefix('serve-reload'));
  const path = f.write('a.toml', f.allRedis());
  const logs: Record<string, unknown>[] = [];
  const first = await serve({ config: path, out: (l) => logs.push(JSON.parse(l) as Record<string, unknown>), http: false });
  const second = await serve({ config: f.write('b.toml', f.allRedis()), out: () => undefined, http: false });
  const c = new TestBridgeClient(url, ns);
  const registered = async (): Promise<Record<string, { exclusive: boolean }>> => {
    const hash = await c.redis.hgetall(c.keys.coordinators);
    return Object.fromEntries(Object.entries(hash).map(([id, v]) => [id, JSON.parse(v.slice(v.indexOf(' ') + 1)) as { exclusive: boolean }]));
  };
  try {
    assert.equal(first.bridge?.exclusive, false, 'every limiter in Redis: the list may be shared');
    f.write('a.toml', f.withMemory());
    assert.equal(await first.reload(), false, 'another coordinator serves the namespace');
    const rejected = logs.findLast((l) => l['event'] === 'reload_rejected');
    assert.match(String(rejected?.['error']), /Another rate-sync coordinator \(pid \d+ on .+\) serves the bridge list/);
    assert.equal(first.bridge?.exclusive, false);
    assert.deepEqual(first.rateSync.coordinator.limiterIds(), ['api'], 'the old configuration stays');

    await second.stop('test: make room');
    assert.equal(await first.reload(), true);
    assert.equal(first.bridge?.exclusive, true);
    assert.equal((await registered())[first.bridge?.id as string]?.exclusive, true, 'announced to other coordinators');
    assert.deepEqual(first.rateSync.coordinator.limiterIds(), ['api', 'local']);

    f.write('a.toml', f.allRedis());
    assert.equal(await first.reload(), true);
    assert.equal(first.bridge?.exclusive, false);
    assert.equal((await registered())[first.bridge?.id as string]?.exclusive, false);
    assert.deepEqual(logs.filter((l) => l['event'] === 'bridge_exclusive').map((l) => l['exclusive']), [true, false]);
  } finally {
    c.close();
    await second.stop('test over');
    await first.stop('test over');
  }
});

test('status and metrics of a serve process show its Celery clients, their grants and the garbage', { skip: redisSkip }, async () => {
  const ns = `t${randomBytes(5).toString('hex')}`;
  const f = files(ns, uniquePrefix('serve-status'));
  const serving = await startServe(f.write('c.toml', f.withMemory()));
  const workers = [new TestBridgeClient(url, ns), new TestBridgeClient(url, ns)];
  try {
    const before = JSON.parse(runCli(['status', '--json', '--url', serving.url]).stdout) as StatusReport;
    assert.equal(before.limiters.find((l) => l.id === 'local')?.grants.total, 0);
    const leases: string[] = [];
    for (const w of workers) {
      const reply = await w.call({ type: 'acquire', limiter: 'local', cost: 1, timeoutMs: 0 });
      assert.equal(reply.ok, true, JSON.stringify(reply));
      leases.push((reply.value as { lease: string }).lease);
    }
    assert.equal((await workers[0]!.call({ type: 'acquire', limiter: 'local', cost: 1, timeoutMs: 0 })).error?.code, 'ERR_RATE_LIMIT_TIMEOUT');
    await workers[0]!.redis.rpush(workers[0]!.keys.requests, 'this is not JSON');
    await workers[0]!.call({ type: 'describe', limiter: 'api' }); // served after the garbage

    const after = JSON.parse(runCli(['status', '--json', '--url', serving.url]).stdout) as StatusReport;
    const local = after.limiters.find((l) => l.id === 'local');
    assert.deepEqual([local?.grants.total, local?.inFlight, local?.refusals.total], [2, 2, 1]);
    assert.deepEqual(after.clients.filter((cl) => cl.kind === 'bridge').map((cl) => cl.leases).sort(), [1, 1]);
    assert.equal(after.bridge?.stats.sessions, 2);
    assert.equal(after.bridge?.stats.rejected, 1);
    assert.equal(after.bridge?.exclusive, true);

    const table = runCli(['status', '--url', serving.url]).stdout;
    assert.match(table, /^local +2 at once +2 +[\d.]+ +0 +2\/2 +0 +1 +0 /m);
    assert.match(table, /^clients: 1 local, 2 bridge$/m);
    assert.match(table, /^bridge t\w+:bridge:requests: 2 Celery clients, \d+ received, 1 garbage, 0 conflicts; other coordinators: none$/m);

    const metrics = await (await fetch(`${serving.url}/metrics`)).text();
    assert.match(metrics, /^ratesync_grants_total\{limiter="local"\} 2$/m);
    assert.match(metrics, /^ratesync_in_flight\{limiter="local"\} 2$/m);
    assert.match(metrics, /^ratesync_clients\{kind="bridge"\} 2$/m);
    assert.match(metrics, /^ratesync_bridge_rejected_total 1$/m);
    assert.match(metrics, /^ratesync_bridge_sessions 2$/m);
    assert.match(metrics, /^ratesync_bridge_error_replies_total\{code="ERR_RATE_LIMIT_TIMEOUT"\} 1$/m);
    for (const [i, w] of workers.entries()) await w.push({ type: 'release', lease: leases[i] });
  } finally {
    for (const w of workers) w.close();
    assert.equal(await serving.stop(), 0);
  }
});
