/**
 * shutdown() in the primary: threads and forks waiting on the coordinator get
 * CoordinatorUnavailableError at once, and so does everything they ask afterwards — never a hang.
 * (Its own file: shutdown ends the process's default instance.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configureLimiter, getLimiter, shutdown } from '../../src/index.js';
import { Fleet } from '../helpers/fleet.js';

test('after shutdown() in the primary, waiting and later calls in threads and forks fail with CoordinatorUnavailableError', async (t) => {
  configureLimiter('closing', { store: 'memory', maxConcurrent: 1 });
  const held = await (await getLimiter('closing')).acquire();
  const fleet = new Fleet();
  t.after(() => fleet.close());
  const names = ['thread', 'fork', 'fork.thread'];
  fleet.thread({ name: 'thread', scenario: 'outlive', params: { limiter: 'closing' } });
  fleet.fork({ name: 'fork', scenario: 'outlive', params: { limiter: 'closing' }, threads: [{ name: 'fork.thread', scenario: 'outlive', params: { limiter: 'closing' } }] }, { cluster: true });
  await fleet.all(names, 'waiting', 60_000);
  for (let i = 0; i < 200 && (await (await getLimiter('closing')).metrics()).waiting < 3; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(held.lease !== null);
  const started = performance.now();
  await shutdown();
  for (const d of await fleet.all(names, 'done', 10_000)) {
    const r = d['result'] as Record<'waiter' | 'retry' | 'lookup', { code: string; message: string }> & { laterMs: number };
    assert.equal(r.waiter.code, 'ERR_COORDINATOR_UNAVAILABLE', `${d.from}: ${JSON.stringify(r.waiter)}`);
    assert.match(r.waiter.message, /shut down/);
    assert.equal(r.retry.code, 'ERR_COORDINATOR_UNAVAILABLE', d.from);
    assert.equal(r.lookup.code, 'ERR_COORDINATOR_UNAVAILABLE', d.from);
    assert.ok(r.laterMs < 2000, `${d.from} took ${r.laterMs} ms to be refused`);
  }
  t.diagnostic(`every client answered ${(performance.now() - started).toFixed(0)} ms after shutdown()`);
});
