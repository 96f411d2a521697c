/**
 * Connections' lives with real threads and forks: a primary that configures itself late, no
 * coordinator at all, threads that exit or close, callers that give up, clients that exit on their own.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { configureLimiter, getLimiter } from '../../src/index.js';
import { Fleet } from '../helpers/fleet.js';

async function until(limiterId: string, what: (m: { waiting: number; inFlight: number }) => boolean, ms = 2000): Promise<number> {
  const limiter = await getLimiter(limiterId);
  const started = performance.now();
  while (!what(await limiter.metrics())) {
    if (performance.now() - started > ms) assert.fail(`${limiterId}: ${JSON.stringify(await limiter.metrics())} after ${ms} ms`);
    await sleep(5);
  }
  return performance.now() - started;
}

// First in this file: nothing is configured yet.
test('forks and threads started before the primary loads its configuration wait for it, then work', async (t) => {
  const fleet = new Fleet();
  t.after(() => fleet.close());
  const work = { limiter: 'late', jobs: 5 };
  fleet.fork({ name: 'early-fork', scenario: 'work', params: work });
  fleet.thread({ name: 'early-thread', scenario: 'work', params: work });
  // Long enough for both to have said hello to a primary that has no configuration yet.
  await sleep(1500);
  configureLimiter('late', { store: 'memory', ratePerSecond: 100, burst: 5 });
  await fleet.all(['early-fork', 'early-thread'], 'ready', 30_000);
  fleet.broadcast(['early-fork', 'early-thread'], { type: 'go' });
  for (const d of await fleet.all(['early-fork', 'early-thread'], 'done')) {
    assert.equal((d['result'] as { grants: number[] }).grants.length, work.jobs);
  }
  // Both exit on their own once done: nothing of rate-sync keeps a fork or a thread alive.
  assert.deepEqual(await fleet.next('early-fork', 'exit'), { from: 'early-fork', type: 'exit', code: 0, signal: null });
  assert.equal((await fleet.next('early-thread', 'exit'))['code'], 0);
});

test('without a coordinator, threads and forks get CoordinatorUnavailableError after the connect timeout, saying what to do', () => {
  const r = spawnSync(process.execPath, [...process.execArgv, new URL('../fixtures/no-coordinator.ts', import.meta.url).pathname], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, RATE_SYNC_CONNECT_TIMEOUT_MS: '300', RATE_SYNC_PARENT_PID: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<'thread' | 'fork', { error: { name: string; code: string; message: string }; ms: number }>;
  for (const [who, { error, ms }] of Object.entries(out)) {
    assert.equal(error.code, 'ERR_COORDINATOR_UNAVAILABLE', who);
    assert.equal(error.name, 'CoordinatorUnavailableError', who);
    assert.match(error.message, /no coordinator answered .* within 300 ms/, who);
    assert.match(error.message, /Start the coordinator in the primary: import rate-sync in the main thread/, who);
    assert.ok(ms >= 290 && ms < 5000, `${who} waited ${ms} ms`);
  }
});

test('a thread that exits loses its leases and its waiters at once; so does one that closes its connection', async (t) => {
  configureLimiter('held', { store: 'memory', maxConcurrent: 3 });
  const fleet = new Fleet();
  t.after(() => fleet.close());
  const worker = fleet.thread({ name: 'dies', scenario: 'hog', params: { limiter: 'held', hold: 2, wait: 3 } });
  await fleet.next('dies', 'holding', 30_000);
  await until('held', (m) => m.inFlight === 3 && m.waiting === 2);
  await worker.terminate();
  t.diagnostic(`leases back ${(await until('held', (m) => m.inFlight === 0 && m.waiting === 0)).toFixed(1)} ms after the thread exited`);

  fleet.thread({ name: 'closes', scenario: 'closeWhileHolding', params: { limiter: 'held' } });
  fleet.fork({ name: 'fork-closes', scenario: 'closeWhileHolding', params: { limiter: 'held' } });
  await fleet.all(['closes', 'fork-closes'], 'holding', 30_000);
  // Each holds one permit and waits for one more (3 slots, 2 held: one of the waiters was served).
  await until('held', (m) => m.inFlight === 3 && m.waiting === 1);
  fleet.broadcast(['closes', 'fork-closes'], { type: 'close' });
  for (const d of await fleet.all(['closes', 'fork-closes'], 'done')) {
    const waiter = (d['result'] as { waiter: { code?: string } | null }).waiter;
    assert.ok(waiter === null || waiter.code === 'ERR_COORDINATOR_UNAVAILABLE', JSON.stringify(waiter));
  }
  await until('held', (m) => m.inFlight === 0 && m.waiting === 0);
});

test('an abort or a timeout in a thread or a fork removes its waiter at the coordinator', async (t) => {
  configureLimiter('full', { store: 'memory', maxConcurrent: 1 });
  const limiter = await getLimiter('full');
  const blocker = await limiter.acquire();
  t.after(() => blocker.release());
  const fleet = new Fleet();
  t.after(() => fleet.close());
  fleet.thread({ name: 'thread', scenario: 'giveUp', params: { limiter: 'full' } });
  fleet.fork({ name: 'fork', scenario: 'giveUp', params: { limiter: 'full' } });
  for (const d of await fleet.all(['thread', 'fork'], 'done', 30_000)) {
    const r = d['result'] as { abort: { name: string }; abortMs: number; timeout: { code: string }; timeoutMs: number };
    assert.equal(r.abort.name, 'AbortError', d.from);
    assert.equal(r.timeout.code, 'ERR_RATE_LIMIT_TIMEOUT', d.from);
    assert.ok(r.abortMs < 1000 && r.timeoutMs >= 95 && r.timeoutMs < 1000, `${d.from}: ${JSON.stringify(r)}`);
  }
  const m = await limiter.metrics();
  assert.equal(m.waiting, 0);
  assert.equal(m.cancellations, 2);
  assert.equal(m.timeouts, 2);
});

test('grants that cross an abort on the way are returned: no lease leaks under churn', async (t) => {
  configureLimiter('churned', { store: 'memory', maxConcurrent: 4 });
  const fleet = new Fleet();
  t.after(() => fleet.close());
  const params = { limiter: 'churned', ms: 1500 };
  fleet.thread({ name: 'thread', scenario: 'churn', params });
  fleet.fork({ name: 'fork', scenario: 'churn', params, threads: [{ name: 'fork.thread', scenario: 'churn', params }] });
  const done = await fleet.all(['thread', 'fork', 'fork.thread'], 'done', 60_000);
  const totals = done.map((d) => d['result'] as { granted: number; gaveUp: number });
  t.diagnostic(`granted ${totals.map((r) => r.granted).join('/')}, gave up ${totals.map((r) => r.gaveUp).join('/')}`);
  for (const r of totals) assert.ok(r.granted > 0 && r.gaveUp > 0, 'both grants and aborts happened');
  await until('churned', (m) => m.inFlight === 0 && m.waiting === 0);
});

test('a worker started by another worker renews its own leases: kept while it lives, back after lease_seconds when it dies unseen', async (t) => {
  configureLimiter('nested', { store: 'memory', maxConcurrent: 2, leaseSeconds: 1 });
  const limiter = await getLimiter('nested');
  const fleet = new Fleet();
  t.after(() => fleet.close());
  const inner = (name: string) => ({ name, scenario: 'holdAndDie', params: { limiter: 'nested' } });
  // A thread of a thread of this process, and a thread of a thread of a fork (whose main thread relays).
  fleet.thread({ name: 'outer', scenario: 'idle', threads: [inner('inner')] });
  fleet.fork({ name: 'fork', scenario: 'idle', threads: [{ name: 'fork.outer', scenario: 'idle', threads: [inner('fork.inner')] }] });
  await fleet.all(['inner', 'fork.inner'], 'holding', 30_000);

  // Their leases outlive 2.5 lease periods: each thread renews its own.
  await sleep(2500);
  assert.equal(await limiter.tryAcquire({ timeoutMs: 0 }), null, 'both slots still held by the live threads');
  assert.equal((await limiter.metrics()).inFlight, 2);

  fleet.broadcast(['inner', 'fork.inner'], { type: 'die' });
  for (const exit of await fleet.all(['inner', 'fork.inner'], 'exit')) assert.equal(exit['code'], 7);
  const diedAt = performance.now();
  // Nobody saw them die: their leases come back when they expire, a lease period after the last renewal.
  const permits = await Promise.all([limiter.acquire({ timeoutMs: 5000 }), limiter.acquire({ timeoutMs: 5000 })]);
  const backMs = performance.now() - diedAt;
  t.diagnostic(`leases of the dead unwatched threads back ${backMs.toFixed(0)} ms after they died (lease_seconds 1, renewed every 333 ms)`);
  assert.ok(backMs >= 300 && backMs <= 2500, `back after ${backMs.toFixed(0)} ms`);
  for (const p of permits) p.release();
});
