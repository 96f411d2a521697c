/**
 * Every example of examples/ runs as a user would run it (`npx tsx <example>.ts` in examples/,
 * importing the built package by name), in a short mode: the same limiter ids with quotas small
 * enough (test/fixtures/examples-fast.toml) that timeouts, requeues and skips really happen.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const examples = new URL('../../examples/', import.meta.url).pathname;
const fastConfig = new URL('../fixtures/examples-fast.toml', import.meta.url).pathname;

function run(example: string, args: string[]): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', example, ...args], {
    cwd: examples,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, RATE_SYNC_CONFIG: fastConfig },
  });
  assert.equal(r.status, 0, `${example} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

test('third-party API: jobs beyond the quota time out, are requeued, and all complete', () => {
  const out = run('third-party-api.ts', ['--jobs', '12', '--timeout-ms', '300', '--requeue-ms', '200']);
  const [, created, requeued] = /(\d+) issues created, (\d+) requeues/.exec(out) ?? [];
  assert.equal(created, '12');
  assert.ok(Number(requeued) > 0, out);
});

test('queue processing: messages over the rate are nacked for redelivery, all are acked in the end', () => {
  const out = run('queue-processing.ts', ['--messages', '25', '--timeout-ms', '200', '--redeliver-ms', '300']);
  const [, acked, nacked] = /(\d+) messages acked, (\d+) nacked/.exec(out) ?? [];
  assert.equal(acked, '25');
  assert.ok(Number(nacked) > 0, out);
});

test('scheduled task: at each tick exactly one of the cluster workers runs the report, the others skip it', () => {
  const out = run('scheduled-task.ts', ['--workers', '3', '--ticks', '3', '--interval-ms', '1000']);
  for (const tick of [0, 1, 2]) assert.match(out, new RegExp(`tick ${tick}: 1 worker ran the report, 2 skipped it`), out);
  assert.match(out, /3 ticks, 3 workers: the report ran 3 times/);
  assert.equal((out.match(/sent the report of/g) ?? []).length, 3, out);
});

test('batch processing: items that wait longer than the timeout are skipped', () => {
  const out = run('batch-processing.ts', ['--items', '15', '--timeout-ms', '100']);
  assert.match(out, /10 items processed, 5 skipped/);
});

test('retry with backoff: every operation succeeds after its failures, each attempt under the quota', () => {
  const out = run('retry-backoff.ts', ['--operations', '8', '--base-ms', '20', '--failures', '2']);
  assert.match(out, /8 of 8 operations succeeded in 24 attempts/);
});

test('multi-service coordination: each order passes both limiters', () => {
  const out = run('multi-service.ts', ['--orders', '20']);
  assert.match(out, /20 orders paid and confirmed in [\d.]+ s/);
});
