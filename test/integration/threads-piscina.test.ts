/**
 * A piscina pool shares a sliding window with nothing but `getLimiter()` in its task: no plumbing,
 * and piscina's own use of `parentPort` is left alone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Piscina } from 'piscina';
import { configureLimiter, getLimiter } from '../../src/index.js';
import { tsWorkerEntry } from '../helpers/fleet.js';
import { busiestWindow } from '../helpers/windows.js';

test('a piscina pool of 4 threads runs 1,000 tasks that each acquire from one sliding window', async (t) => {
  const limit = 250;
  const windowMs = 500;
  configureLimiter('pipeline', { store: 'memory', algorithm: 'sliding_window', limit, windowSeconds: windowMs / 1000 });
  const pool = new Piscina({
    filename: tsWorkerEntry.href,
    workerData: { entry: new URL('../fixtures/piscina-task.ts', import.meta.url).href },
    minThreads: 4,
    maxThreads: 4,
    concurrentTasksPerWorker: 16,
  });
  t.after(() => pool.destroy());
  const results = await Promise.all(Array.from({ length: 1000 }, () => pool.run({ limiter: 'pipeline' }) as Promise<{ grantedAt: number; threadId: number }>));
  const grants = results.map((r) => r.grantedAt).sort((a, b) => a - b);
  const peak = busiestWindow(grants, windowMs);
  const spanMs = (grants.at(-1) as number) - (grants[0] as number);
  t.diagnostic(`1000 grants over ${spanMs.toFixed(0)} ms by ${new Set(results.map((r) => r.threadId)).size} threads; busiest ${windowMs} ms window: ${peak}`);
  assert.equal(new Set(results.map((r) => r.threadId)).size, 4, 'all four threads took part');
  assert.ok(peak <= limit, `${peak} grants in one window of ${windowMs} ms`);
  assert.equal(peak, limit, 'the window was used to the full');
  const metrics = await (await getLimiter('pipeline')).metrics();
  assert.equal(metrics.acquisitions, 1000);
  assert.equal(metrics.waiting, 0);
});
