/**
 * Concurrency limits shared by real forks and the threads inside them: the bound as the holders
 * measure it, leases of a fork killed with SIGKILL, and leader election with one try.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { configureLimiter, getLimiter } from '../../src/index.js';
import { epochNow, Fleet, type AgentSpec } from '../helpers/fleet.js';
import { maxOverlap } from '../helpers/windows.js';

test('max_concurrent = 3 across 2 forks × 4 threads: never more than 3 holders, and all work finishes', async (t) => {
  configureLimiter('three_slots', { store: 'memory', maxConcurrent: 3 });
  const fleet = new Fleet();
  t.after(() => fleet.close());
  const params = { limiter: 'three_slots', jobs: 4, loops: 2, holdMs: 15 };
  const names: string[] = [];
  for (const f of ['f1', 'f2']) {
    const threads: AgentSpec[] = [1, 2, 3, 4].map((i) => ({ name: `${f}.t${i}`, scenario: 'hold', params }));
    names.push(...threads.map((th) => th.name));
    fleet.fork({ name: f, scenario: 'idle', threads });
  }
  await fleet.all(names, 'ready', 60_000);
  fleet.broadcast(names, { type: 'go' });
  const done = await fleet.all(names, 'done', 60_000);
  const intervals = done.flatMap((d) => (d['result'] as { intervals: [number, number][] }).intervals);
  assert.equal(intervals.length, 2 * 4 * params.jobs * params.loops, 'every job ran');
  // Holders stamp with their own clocks (each thread's performance.timeOrigin): a 1 ms slack at
  // both ends of each 15 ms hold absorbs the clocks' disagreement, never a fourth holder.
  const peak = maxOverlap(intervals, 1);
  t.diagnostic(`at most ${peak} holders at once (raw, no slack: ${maxOverlap(intervals)}), ${intervals.length} jobs`);
  assert.ok(peak <= 3, `${peak} holders at once`);
  assert.equal(peak, 3, 'the three slots were used');
  assert.equal((await (await getLimiter('three_slots')).metrics()).inFlight, 0);
});

test('a fork killed with SIGKILL holding 2 leases with 5 waiters: its leases are free within 1 s, the others finish', async (t) => {
  configureLimiter('two_slots', { store: 'memory', maxConcurrent: 2 });
  const limiter = await getLimiter('two_slots');
  const fleet = new Fleet();
  t.after(() => fleet.close());
  fleet.fork({ name: 'hog', scenario: 'hog', params: { limiter: 'two_slots', hold: 2, wait: 5 } });
  await fleet.next('hog', 'holding', 60_000);
  const work = { limiter: 'two_slots', jobs: 3, holdMs: 10 };
  fleet.thread({ name: 't1', scenario: 'work', params: work });
  fleet.fork({ name: 'f1', scenario: 'work', params: work, threads: [{ name: 'f1.t1', scenario: 'work', params: work }] });
  const others = ['t1', 'f1', 'f1.t1'];
  await fleet.all(others, 'ready', 60_000);
  fleet.broadcast(others, { type: 'go' });
  for (let i = 0; i < 200 && (await limiter.metrics()).waiting < 5 + others.length; i++) await sleep(10);
  const before = await limiter.metrics();
  assert.equal(before.inFlight, 2);
  assert.equal(before.waiting, 5 + others.length, 'the hog waits behind its own leases, the others behind it');

  const killedAt = epochNow();
  fleet.process('hog').kill('SIGKILL');
  const done = await fleet.all(others, 'done', 30_000);
  const firstGrant = Math.min(...done.map((d) => (d['result'] as { grants: number[] }).grants[0] as number));
  t.diagnostic(`first grant to another client ${(firstGrant - killedAt).toFixed(1)} ms after the SIGKILL`);
  assert.ok(firstGrant - killedAt < 1000, `leases came back ${firstGrant - killedAt} ms after the kill`);
  for (const d of done) assert.equal((d['result'] as { grants: number[] }).grants.length, work.jobs);
  const after = await limiter.metrics();
  assert.equal(after.inFlight, 0);
  assert.equal(after.waiting, 0);
  assert.ok(after.cancellations >= 5, 'the dead fork’s waiters were withdrawn');
});

test('tryAcquire({ timeoutMs: 0 }) from 8 contexts at once on max_concurrent = 1: exactly one wins each round', async (t) => {
  configureLimiter('leader', { store: 'memory', maxConcurrent: 1 });
  const fleet = new Fleet();
  t.after(() => fleet.close());
  const params = { limiter: 'leader' };
  const names = ['t1', 't2', 't3', 't4', 'f1', 'f1.t1', 'f2', 'f2.t1'];
  for (const name of names.slice(0, 4)) fleet.thread({ name, scenario: 'elect', params });
  for (const f of ['f1', 'f2']) fleet.fork({ name: f, scenario: 'elect', params, threads: [{ name: `${f}.t1`, scenario: 'elect', params }] });
  await fleet.all(names, 'ready', 60_000);
  const winners = new Set<string>();
  for (let round = 0; round < 6; round++) {
    fleet.broadcast(names, { type: 'round', round });
    const votes = await fleet.all(names, 'vote');
    const won = votes.filter((v) => v['won'] === true).map((v) => v.from);
    assert.equal(won.length, 1, `round ${round}: winners ${won.join(', ') || 'none'}`);
    winners.add(won[0] as string);
    fleet.broadcast(names, { type: 'release' });
    await fleet.all(names, 'released');
  }
  t.diagnostic(`winners over 6 rounds: ${[...winners].join(', ')}`);
  fleet.broadcast(names, { type: 'round', round: -1 });
  await fleet.all(names, 'done');
});
