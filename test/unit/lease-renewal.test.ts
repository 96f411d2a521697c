/**
 * A client that renews its own leases (a worker thread whose exit cannot be seen): every held
 * lease within a third of its lease period, all in one call; released ones no more; lost ones
 * forgotten with a warning. Real timers, short periods, tolerant bounds.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { LeaseRenewal } from '../../src/threads/lease-renewal.js';

test('held leases are renewed together every third of the shortest lease period, until released', async () => {
  const calls: { at: number; leases: string[] }[] = [];
  const t0 = performance.now();
  const renewal = new LeaseRenewal(async (leases) => {
    calls.push({ at: performance.now() - t0, leases });
    return [];
  });
  renewal.hold('a', 'slow', 3000);
  renewal.hold('b', 'fast', 300);
  await sleep(350);
  assert.ok(calls.length >= 1 && calls.length <= 4, `${calls.length} renewals in 350 ms with a 100 ms period`);
  // Well before the 300 ms lease would expire (100 ms, plus what a busy machine adds).
  assert.ok((calls[0]?.at ?? Infinity) < 250, `first renewal after ${calls[0]?.at.toFixed(0)} ms`);
  for (const c of calls) assert.deepEqual(c.leases, ['a', 'b']);

  renewal.forget('b');
  calls.length = 0;
  await sleep(250);
  // Left with the 3 s lease, the next renewal is a second away.
  assert.ok(calls.length <= 1, JSON.stringify(calls));
  for (const c of calls) assert.deepEqual(c.leases, ['a']);
  renewal.forget('a');
  calls.length = 0;
  renewal.hold('c', 'fast', 150);
  renewal.stop();
  await sleep(150);
  assert.deepEqual(calls, [], 'nothing renewed once stopped');
});

test('leases reported lost are forgotten, with a warning naming their limiter', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const renewed: string[][] = [];
  const renewal = new LeaseRenewal(async (leases) => {
    renewed.push(leases);
    return leases.filter((l) => l === 'gone');
  });
  renewal.hold('gone', 'api:tenant', 150);
  renewal.hold('kept', 'api:tenant', 150);
  await sleep(180);
  renewal.stop();
  assert.deepEqual(renewed[0], ['gone', 'kept']);
  if (renewed.length > 1) assert.deepEqual(renewed[1], ['kept'], 'a lost lease is not renewed again');
  await sleep(0);
  const warning = warnings.find((w) => (w as Error & { code?: string }).code === 'RATE_SYNC_LEASE_LOST');
  assert.ok(warning, 'warned');
  assert.match(warning.message, /"api:tenant"/);
});
