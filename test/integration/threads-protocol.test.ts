/**
 * What arrives on rate-sync's channels from outside is checked: garbage from a thread or a fork
 * gets an error reply, and the coordinator keeps serving everyone.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { configureLimiter, getLimiter } from '../../src/index.js';
import { decode } from '../../src/threads/codec.js';
import { Fleet, tsWorkerEntry } from '../helpers/fleet.js';

const rawClient = new URL('../fixtures/raw-client.ts', import.meta.url);

type Answer = { type: string; id?: number; ok?: boolean; error?: { code: string; message: string } };

function check(raw: unknown[]): void {
  // Grants come in their compact form (docs/protocol.md, "Batches").
  const answers = raw.map(decode) as Answer[];
  assert.ok(raw.some((a) => Array.isArray(a) && a[0] === 4), 'the grant came compact');
  const byId = new Map(answers.filter((a) => a.type === 'reply').map((a) => [a.id, a]));
  const code = (id: number): string | undefined => byId.get(id)?.error?.code;
  assert.equal(code(1), 'ERR_PROTOCOL');
  assert.match(byId.get(1)?.error?.message ?? '', /version 2.*speaks version 1/);
  assert.equal(code(2), 'ERR_PROTOCOL');
  assert.match(byId.get(2)?.error?.message ?? '', /"frobnicate"/);
  assert.equal(code(3), 'ERR_PROTOCOL');
  assert.match(byId.get(3)?.error?.message ?? '', /field "limiter"/);
  assert.equal(code(4), 'ERR_LIMITER_NOT_FOUND');
  assert.equal(code(5), 'ERR_PROTOCOL');
  assert.equal(byId.get(6)?.ok, true, 'a valid request after the garbage is served');
  const unaddressed = answers.filter((a) => a.type === 'error');
  // "not a message", the release with a numeric lease, and the bare 42: no id to answer, so `error` messages.
  assert.equal(unaddressed.length, 3);
  for (const e of unaddressed) assert.equal(e.error?.code, 'ERR_PROTOCOL');
}

test('garbage on a thread’s channel and on a fork’s IPC channel gets error replies; everyone keeps being served', async (t) => {
  configureLimiter('ok', { store: 'memory', ratePerSecond: 1000, burst: 100 });
  const fleet = new Fleet();
  t.after(() => fleet.close());
  const work = { limiter: 'ok', jobs: 20 };
  fleet.thread({ name: 'bystander', scenario: 'work', params: work });
  fleet.fork({ name: 'fork-bystander', scenario: 'work', params: work });
  await fleet.all(['bystander', 'fork-bystander'], 'ready', 60_000);

  const thread = new Worker(tsWorkerEntry, { workerData: { entry: rawClient.href } });
  const child = fork(rawClient.pathname, [], { execArgv: process.execArgv });
  t.after(() => child.kill('SIGKILL'));
  const [fromThread, fromFork] = await Promise.all([
    new Promise<{ answers: Answer[] }>((resolve, reject) => thread.once('message', resolve).once('error', reject)),
    new Promise<{ answers: Answer[] }>((resolve, reject) =>
      child.on('message', (m: { answers?: Answer[] }) => m.answers && resolve(m as { answers: Answer[] })).once('error', reject),
    ),
  ]);
  check(fromThread.answers);
  check(fromFork.answers);

  fleet.broadcast(['bystander', 'fork-bystander'], { type: 'go' });
  const done = await fleet.all(['bystander', 'fork-bystander'], 'done');
  for (const d of done) assert.equal((d['result'] as { grants: number[] }).grants.length, work.jobs);
  assert.ok((await (await getLimiter('ok')).metrics()).acquisitions >= 2 * work.jobs + 2);
});

test('the whole Limiter API works the same from a thread, a fork, a fork’s thread and a fork’s fork', async (t) => {
  configureLimiter('api_base', { store: 'memory', ratePerSecond: 10, burst: 3, maxConcurrent: 2 });
  const fleet = new Fleet();
  t.after(() => fleet.close());
  fleet.thread({ name: 'thread', scenario: 'api' });
  fleet.fork({ name: 'fork', scenario: 'api', threads: [{ name: 'fork.thread', scenario: 'api' }], forks: [{ name: 'fork.fork', scenario: 'api' }] });
  for (const d of await fleet.all(['thread', 'fork', 'fork.thread', 'fork.fork'], 'done', 60_000)) {
    const r = d['result'] as Record<string, any>;
    assert.equal(r.id, `api_base:${d.from}`);
    assert.equal(r.same, true, 'getOrCloneLimiter returns the same instance');
    assert.equal(r.config.maxConcurrent, 2);
    assert.equal(typeof r.lease, 'string');
    assert.equal(r.state.limiter, `api_base:${d.from}`);
    assert.equal(r.state.inFlight, 2);
    assert.equal(r.state.remaining, 0);
    assert.equal(r.state.allowed, false);
    assert.ok(r.metrics.acquisitions >= 1);
    assert.equal(r.tooMuch, null, 'the one try found no room');
    assert.equal(r.custom.maxConcurrent, 7);
    assert.equal(r.missing.code, 'ERR_LIMITER_NOT_FOUND');
    assert.match(r.missing.message, /no_such_limiter/);
    assert.equal(r.badCost.code, 'ERR_INVALID_ARGUMENT');
    assert.equal(r.onlyHere.code, 'ERR_LIMITER_NOT_FOUND');
    assert.match(r.onlyHere.message, /configured in this (thread|fork), but threads and forks are served from the primary's configuration/);
  }
});
