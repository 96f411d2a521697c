/**
 * The Node side of the Celery bridge against a real Redis: requests pushed the way the Python
 * client pushes them, served by a real coordinator, replies on the client's own list.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { startCeleryBridge, type CeleryBridge } from '../../src/celery-bridge/index.js';
import { RateSync } from '../../src/index.js';
import { TestBridgeClient } from '../helpers/bridge-client.js';
import { ownRedis, redisSkip, sharedRedisUrl } from '../helpers/redis.js';

const url = sharedRedisUrl as string;
const fresh = (): string => `t${randomBytes(5).toString('hex')}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function serving(namespace: string, redisUrl = url, popCommand?: 'BLPOP'): Promise<{ rs: RateSync; bridge: CeleryBridge; stop(): Promise<void> }> {
  const rs = new RateSync({ configFile: false });
  rs.configureLimiter('rate', { store: 'memory', ratePerSecond: 10 });
  rs.configureLimiter('slots', { store: 'memory', maxConcurrent: 1, leaseSeconds: 1 });
  rs.configureLimiter('slow', { store: 'memory', ratePerSecond: 0.01 });
  const bridge = await startCeleryBridge(rs, { url: redisUrl, namespace, ...(popCommand === undefined ? {} : { popCommand }) });
  return {
    rs,
    bridge,
    async stop() {
      await bridge.stop();
      await rs.shutdown();
      await bridge.close();
    },
  };
}

for (const popCommand of [undefined, 'BLPOP'] as const) test(`requests pushed to the list are served FIFO and answered on each client's own list (${popCommand ?? 'BLMPOP'})`, { skip: redisSkip }, async () => {
  const ns = fresh();
  const s = await serving(ns, url, popCommand);
  const a = new TestBridgeClient(url, ns);
  const b = new TestBridgeClient(url, ns);
  try {
    const first = await a.call({ type: 'acquire', limiter: 'rate', timeoutMs: 1000 });
    assert.equal(first.ok, true);
    assert.equal(first.coordinator, s.bridge.id);
    // Three requests, alternating clients: granted in push order, 100 ms apart (10/s, burst 1).
    await a.push({ type: 'acquire', id: 'a2', limiter: 'rate', timeoutMs: 2000 });
    await b.push({ type: 'acquire', id: 'b1', limiter: 'rate', timeoutMs: 2000 });
    await a.push({ type: 'acquire', id: 'a3', limiter: 'rate', timeoutMs: 2000 });
    const [a2, a3, b1] = [await a.next(), await a.next(), await b.next()];
    const at = (r: typeof a2): number => (r?.value as { grantedAt: number }).grantedAt;
    assert.deepEqual([a2?.id, a3?.id, b1?.id], ['a2', 'a3', 'b1']);
    assert.ok(at(a2) < at(b1) && at(b1) < at(a3), 'FIFO across clients');
    assert.ok(at(b1) - at(a2) >= 99 && at(a3) - at(b1) >= 99, `spaced by the rate: ${at(a2)}, ${at(b1)}, ${at(a3)}`);
    const ttl = await a.redis.pttl(a.keys.reply(a.channel));
    assert.ok(ttl === -2 || (ttl > 0 && ttl <= 30_000), 'reply lists expire');
  } finally {
    a.close();
    b.close();
    await s.stop();
  }
});

test('a request whose deadline passed in the list is timed out, not granted; one read after its client left is dropped', { skip: redisSkip }, async () => {
  const ns = fresh();
  const s = await serving(ns);
  const c = new TestBridgeClient(url, ns);
  try {
    const raw = (fields: Record<string, unknown>, ageMs: number, now: number): string =>
      JSON.stringify({ at: Math.round(now - ageMs * 1000), v: 1, client: c.client, reply: c.channel, type: 'acquire', limiter: 'slow', ...fields });
    let now = await c.redisTimeUs();
    await c.redis.rpush(c.keys.requests, raw({ id: 'late', timeoutMs: 1000 }, 2000, now));
    const late = await c.next();
    assert.equal(late?.id, 'late');
    assert.equal(late?.error?.code, 'ERR_RATE_LIMIT_TIMEOUT');
    assert.equal(late?.error?.details?.['timeoutMs'], 1000, 'the error names the timeout the client asked for');
    now = await c.redisTimeUs();
    await c.redis.rpush(c.keys.requests, raw({ id: 'gone', timeoutMs: 0, ttlMs: 500 }, 3000, now));
    assert.equal(await c.next(0.5), null, 'nobody listens any more: no reply');
    const state = await c.call({ type: 'state', limiter: 'slow' });
    assert.equal((state.value as { remaining: number }).remaining, 1, 'neither consumed the permit');
    assert.equal(s.bridge.stats().expired, 1);
    assert.equal(s.bridge.stats().stale, 1);

    // A request that waited 400 ms in the list has 600 ms of its 1000 left.
    await c.call({ type: 'acquire', limiter: 'slow', timeoutMs: 0 });
    now = await c.redisTimeUs();
    const pushed = Date.now();
    await c.redis.rpush(c.keys.requests, raw({ id: 'partial', timeoutMs: 1000 }, 400, now));
    const partial = await c.next();
    const waited = Date.now() - pushed;
    assert.equal(partial?.error?.code, 'ERR_RATE_LIMIT_TIMEOUT');
    assert.ok(waited >= 450 && waited < 1000, `timed out after ${waited} ms, expected ~600`);
  } finally {
    c.close();
    await s.stop();
  }
});

test('garbage gets an error reply where a reply address is readable, is counted, and never stops the coordinator', { skip: redisSkip }, async () => {
  const ns = fresh();
  const s = await serving(ns);
  const c = new TestBridgeClient(url, ns);
  try {
    const at = await c.redisTimeUs();
    const base = { at, v: 1, client: c.client, reply: c.channel };
    const entries = [
      'not json at all',
      `{"at":${at},"v":1,"client":"${c.client}","reply":"${c.channel}","type":"acquire","id":"broken",`,
      JSON.stringify({ ...base, v: 2, type: 'acquire', id: 'v2', limiter: 'rate' }),
      JSON.stringify({ ...base, type: 'acquire', id: 'nolimiter' }),
      JSON.stringify({ ...base, type: 'clone', id: 'clone', source: 'rate', newId: 'x', overrides: {} }),
      JSON.stringify({ ...base, type: 'acquire', id: 'long', limiter: 'x'.repeat(129) }),
      `{"at":${at},"v":1,"client":"${c.client}","reply":"${c.channel}","type":"acquire","id":"huge","limiter":"${'x'.repeat(10 * 1024 * 1024)}"}`,
      JSON.stringify({ ...base, type: 'acquire', id: 'unknown', limiter: 'no_such_limiter' }),
    ];
    for (const e of entries) await c.redis.rpush(c.keys.requests, e);
    const replies = [];
    for (let i = 0; i < entries.length - 1; i++) replies.push(await c.next());
    const byId = new Map(replies.map((r) => [r?.id ?? null, r]));
    assert.deepEqual(
      [...byId.keys()].sort(),
      ['broken', 'clone', 'huge', 'long', 'nolimiter', 'unknown', 'v2'],
      'every entry with a readable reply address got its error (the plain text has none)',
    );
    assert.match(byId.get('huge')?.error?.message ?? '', /Bridge message of 10485\d{3} bytes refused/);
    assert.match(byId.get('v2')?.error?.message ?? '', /Unsupported bridge protocol version 2/);
    assert.equal(byId.get('unknown')?.error?.code, 'ERR_LIMITER_NOT_FOUND');
    const stats = s.bridge.stats();
    assert.equal(stats.rejected, 7);
    assert.equal(stats.errors['ERR_LIMITER_NOT_FOUND'], 1);
    assert.equal((await c.call({ type: 'acquire', limiter: 'rate', timeoutMs: 1000 })).ok, true, 'still serving');
  } finally {
    c.close();
    await s.stop();
  }
});

test('bridge leases are renewed by their client; unrenewed, they come back after lease_seconds', { skip: redisSkip }, async () => {
  const ns = fresh();
  const s = await serving(ns);
  const holder = new TestBridgeClient(url, ns);
  const other = new TestBridgeClient(url, ns);
  try {
    const grant = await holder.call({ type: 'acquire', limiter: 'slots', timeoutMs: 0 });
    const lease = grant.value?.['lease'] as string;
    const own = holder.keys.coordinator(grant.coordinator);
    for (let i = 0; i < 5; i++) {
      await sleep(300);
      await holder.push({ type: 'renew', id: `r${i}`, leases: [lease] }, own);
    }
    assert.equal((await other.call({ type: 'acquire', limiter: 'slots', timeoutMs: 0 })).ok, false, 'renewed for 1.5 s > lease_seconds: still held');
    const t0 = Date.now();
    const next = await other.call({ type: 'acquire', limiter: 'slots', timeoutMs: 3000 });
    assert.equal(next.ok, true);
    const waited = Date.now() - t0;
    assert.ok(waited >= 500 && waited <= 1500, `reclaimed ${waited} ms after the last renewal (lease_seconds = 1)`);
    await holder.push({ type: 'renew', id: 'late', leases: [lease] }, own);
    let late;
    do late = await holder.next();
    while (late !== null && late.id !== 'late');
    assert.deepEqual(late?.value, { lost: [lease] });
  } finally {
    holder.close();
    other.close();
    await s.stop();
  }
});

test('with limiters on the memory store, a second coordinator on the same namespace is refused', { skip: redisSkip }, async () => {
  const ns = fresh();
  const s = await serving(ns);
  try {
    await assert.rejects(serving(ns), /Another rate-sync coordinator \(pid \d+ on .+\) already serves the bridge list "t\w+:bridge:requests"/);
    const other = await serving(fresh());
    await other.stop();
  } finally {
    await s.stop();
  }
  const again = await serving(ns);
  await again.stop();
  // Coordinators whose limiters all live in Redis stores may share the list.
  const rs1 = new RateSync({ configFile: false });
  const rs2 = new RateSync({ configFile: false });
  const b1 = await startCeleryBridge(rs1, { url, namespace: ns, exclusive: false });
  const b2 = await startCeleryBridge(rs2, { url, namespace: ns, exclusive: false });
  await b1.close();
  await b2.close();
});

test('two coordinators that meet anyway (started at the same instant) both report the conflict', { skip: redisSkip }, async () => {
  const ns = fresh();
  const events: string[] = [];
  const rs = new RateSync({ configFile: false });
  rs.configureLimiter('rate', { store: 'memory', ratePerSecond: 10 });
  const bridge = await startCeleryBridge(rs, { url, namespace: ns, log: (event) => events.push(event) });
  const c = new TestBridgeClient(url, ns);
  try {
    // Another coordinator's registration, as join() would have written it had it won the race.
    const now = await c.redisTimeUs();
    const other = { id: 'other-1-00000000', pid: 1, host: 'elsewhere', exclusive: true, version: '0' };
    await c.redis.hset(c.keys.coordinators, other.id, `${Math.round(now / 1000) + 60_000} ${JSON.stringify(other)}`);
    await sleep(1500);
    assert.ok(bridge.stats().conflicts >= 1);
    assert.ok(events.includes('bridge_conflict'));
  } finally {
    c.close();
    await bridge.close();
    await rs.shutdown();
  }
});

test('the bridge rides out a Redis restart', { skip: redisSkip }, async () => {
  const redis = await ownRedis();
  const ns = fresh();
  const s = await serving(ns, redis.url);
  try {
    await redis.kill();
    await sleep(500);
    await redis.restart();
    const c = new TestBridgeClient(redis.url, ns);
    try {
      const reply = await c.call({ type: 'acquire', limiter: 'rate', timeoutMs: 10_000 }, 15);
      assert.equal(reply.ok, true, JSON.stringify(reply.error));
    } finally {
      c.close();
    }
  } finally {
    await s.stop();
    await redis.stop();
  }
});

test('ratesync serve: ready line, and on SIGTERM waiters get CoordinatorUnavailableError and it leaves the namespace', { skip: redisSkip }, async () => {
  const ns = fresh();
  const dir = mkdtempSync(join(tmpdir(), 'ratesync-serve-'));
  const file = join(dir, 'rate-sync.toml');
  writeFileSync(file, `[limiters.slots]\nstore = "memory"\nmax_concurrent = 1\n\n[bridge]\nurl = "${url}"\nnamespace = "${ns}"\n`);
  const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [cli, 'serve', '--config', file, '--metrics-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as Record<string, unknown>;
      lines.push(event);
      if (event['event'] === 'ready') resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const c = new TestBridgeClient(url, ns);
  try {
    await ready;
    assert.equal((await c.call({ type: 'acquire', limiter: 'slots', timeoutMs: 0 })).ok, true);
    await c.push({ type: 'acquire', id: 'waiting', limiter: 'slots', timeoutMs: null });
    await sleep(200);
    child.kill('SIGTERM');
    const reply = await c.next();
    assert.equal(reply?.id, 'waiting');
    assert.equal(reply?.error?.code, 'ERR_COORDINATOR_UNAVAILABLE');
    assert.match(reply?.error?.message ?? '', /coordinator was stopped \(SIGTERM\)/);
    assert.equal(await exited, 0);
    assert.equal(await c.redis.exists(c.keys.coordinators), 0, 'it left the presence hash');
    const stopped = lines.find((l) => l['event'] === 'stopped') as { bridge: { received: number } } | undefined;
    assert.equal(stopped?.bridge.received, 2);
  } finally {
    c.close();
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bridge does not start without a reachable Redis, and says which', { skip: redisSkip }, async () => {
  const rs = new RateSync({ configFile: false });
  const port = Number(new URL(url).port) + 1;
  await assert.rejects(
    startCeleryBridge(rs, { url: `redis://127.0.0.1:${port}/0`, namespace: fresh(), connectTimeoutMs: 500 }),
    /The Celery bridge cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/0/,
  );
});
