/**
 * The coordinator as remote clients see it: protocol messages in, replies out, in virtual time.
 * Transports (threads, forks, the Celery bridge) only carry these messages.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RateSyncConfig } from '../../src/config/types.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import type { CoordinatorMessage } from '../../src/coordinator/protocol.js';
import { Session } from '../../src/coordinator/session.js';
import { FakeClock, flushPromises } from '../../src/testing.js';

function config(): RateSyncConfig {
  return {
    source: 'test',
    stores: new Map([['memory', { id: 'memory', engine: 'memory' }]]),
    limiters: new Map([
      ['slots', { id: 'slots', store: 'memory', algorithm: 'token_bucket', maxConcurrent: 2, failClosed: false, leaseSeconds: 60 }],
      ['rate', { id: 'rate', store: 'memory', algorithm: 'token_bucket', ratePerSecond: 10, failClosed: false, leaseSeconds: 60 }],
    ]),
  };
}

function client(coordinator: Coordinator, kind: 'thread' | 'fork' | 'bridge' = 'thread') {
  const inbox: CoordinatorMessage[] = [];
  const session = new Session(coordinator, (m) => inbox.push(m), kind, 'test client');
  return { session, inbox, last: () => inbox.at(-1) };
}

test('acquire, grant with a lease, release: the slot frees for another client', () => {
  const coordinator = new Coordinator(config(), { clock: new FakeClock() });
  const a = client(coordinator);
  const b = client(coordinator);
  a.session.receive({ v: 1, type: 'acquire', id: 1, limiter: 'slots', cost: 2 });
  const reply = a.last();
  assert.equal(reply?.type, 'reply');
  assert.ok(reply?.type === 'reply' && reply.ok);
  const lease = (reply.value as { lease: string }).lease;
  assert.equal(typeof lease, 'string');
  b.session.receive({ v: 1, type: 'acquire', id: 7, limiter: 'slots', cost: 1, timeoutMs: 0 });
  assert.deepEqual(b.last(), {
    v: 1,
    type: 'reply',
    id: 7,
    ok: false,
    error: {
      code: 'ERR_RATE_LIMIT_TIMEOUT',
      message: 'No permit available now from limiter "slots" (timeout 0: one try, no wait)',
      details: { limiterId: 'slots', timeoutMs: 0 },
    },
  });
  a.session.receive({ v: 1, type: 'release', lease });
  b.session.receive({ v: 1, type: 'acquire', id: 8, limiter: 'slots', cost: 1, timeoutMs: 0 });
  assert.ok(b.last()?.type === 'reply' && (b.last() as { ok: boolean }).ok);
});

test('a client that goes away loses its leases and its waiters at once', () => {
  const coordinator = new Coordinator(config(), { clock: new FakeClock() });
  const dying = client(coordinator, 'fork');
  const other = client(coordinator);
  dying.session.receive({ v: 1, type: 'acquire', id: 1, limiter: 'slots' });
  dying.session.receive({ v: 1, type: 'acquire', id: 2, limiter: 'slots' });
  for (let id = 3; id < 8; id++) dying.session.receive({ v: 1, type: 'acquire', id, limiter: 'slots', timeoutMs: null });
  other.session.receive({ v: 1, type: 'acquire', id: 1, limiter: 'slots' });
  assert.equal(other.inbox.length, 0, 'the other client waits behind the dying one');
  assert.equal(coordinator.metrics('slots').waiting, 6);
  dying.session.close();
  assert.equal(coordinator.metrics('slots').waiting, 0);
  assert.ok(other.last()?.type === 'reply' && (other.last() as { ok: boolean }).ok, 'served as soon as the slots came back');
  assert.equal(coordinator.metrics('slots').inFlight, 1);
  const before = dying.inbox.length;
  dying.session.receive({ v: 1, type: 'acquire', id: 99, limiter: 'slots' });
  assert.equal(dying.inbox.length, before, 'nothing is sent to a closed client');
});

test('cancel withdraws a waiter; its reply says it was cancelled', () => {
  const coordinator = new Coordinator(config(), { clock: new FakeClock() });
  const c = client(coordinator);
  c.session.receive({ v: 1, type: 'acquire', id: 1, limiter: 'rate' });
  c.session.receive({ v: 1, type: 'acquire', id: 2, limiter: 'rate' });
  c.session.receive({ v: 1, type: 'cancel', id: 2 });
  assert.deepEqual(c.last(), {
    v: 1,
    type: 'reply',
    id: 2,
    ok: false,
    error: { code: 'ERR_CANCELLED', message: 'cancelled by the client' },
  });
  assert.equal(coordinator.metrics('rate').waiting, 0);
});

test('state, describe, metrics and clone answer over the protocol', async () => {
  const coordinator = new Coordinator(config(), { clock: new FakeClock(1000) });
  const c = client(coordinator);
  c.session.receive({ v: 1, type: 'describe', id: 'd', limiter: 'rate', key: 'user:1' });
  const described = c.last() as { ok: true; value: { id: string; base: string; key: string; config: { ratePerSecond: number } } };
  assert.equal(described.value.id, 'rate:user:1');
  assert.equal(described.value.config.ratePerSecond, 10);
  c.session.receive({ v: 1, type: 'state', id: 's', limiter: 'rate' });
  await flushPromises();
  assert.deepEqual((c.last() as { value: unknown }).value, {
    limiter: 'rate',
    allowed: true,
    remaining: 1,
    retryAt: 1000,
    resetAt: 1000,
    inFlight: 0,
    waiting: 0,
  });
  c.session.receive({ v: 1, type: 'metrics', id: 'm', limiter: 'rate' });
  assert.equal((c.last() as { value: { acquisitions: number } }).value.acquisitions, 0);
  c.session.receive({ v: 1, type: 'clone', id: 'c', source: 'rate', newId: 'rate_fast', overrides: { ratePerSecond: 50 } });
  assert.equal((c.last() as { value: { config: { ratePerSecond: number } } }).value.config.ratePerSecond, 50);
  c.session.receive({ v: 1, type: 'describe', id: 'x', limiter: 'missing' });
  assert.equal((c.last() as { error: { code: string } }).error.code, 'ERR_LIMITER_NOT_FOUND');
});

test('garbage gets an error reply and the coordinator keeps serving', () => {
  const coordinator = new Coordinator(config(), { clock: new FakeClock() });
  const c = client(coordinator);
  const garbage: unknown[] = [
    null,
    'hello',
    42,
    [],
    { type: 'acquire', id: 1, limiter: 'rate' },
    { v: 2, type: 'acquire', id: 2, limiter: 'rate' },
    { v: 1, type: 'explode', id: 3 },
    { v: 1, type: 'acquire', id: 4 },
    { v: 1, type: 'acquire', id: 5, limiter: 'rate', cost: -1 },
    { v: 1, type: 'acquire', id: 6, limiter: 'rate', cost: 1.5 },
    { v: 1, type: 'acquire', id: 7, limiter: 'rate', timeoutMs: 'soon' },
    { v: 1, type: 'acquire', id: 8, limiter: 'x'.repeat(10_000) },
    { v: 1, type: 'release' },
    { v: 1, type: 'renew', leases: 'abc' },
    { v: 1, type: 'clone', id: 9, source: 'rate', newId: 'r2', overrides: { ratePerSecond: -5 } },
    { v: 1, type: 'acquire', id: 10, limiter: 'unknown' },
  ];
  for (const g of garbage) c.session.receive(g);
  assert.equal(c.inbox.length, garbage.length, 'every bad message got exactly one reply');
  const messages = c.inbox.map((m) => (m.type === 'error' ? m.error : m.type === 'reply' && !m.ok ? m.error : undefined));
  assert.ok(messages.every((e) => e !== undefined));
  assert.match(messages[0]!.message, /Expected a message object, found null/);
  assert.match(messages[5]!.message, /Unsupported protocol version 2 \(number\): this coordinator speaks version 1/);
  assert.match(messages[6]!.message, /field "type": expected one of hello, acquire/);
  assert.match(messages[7]!.message, /field "limiter": expected a string of 1..128 characters, found nothing/);
  assert.match(messages[8]!.message, /field "cost": expected an integer from 1 to 1000000, found -1 \(number\)/);
  assert.equal(messages[14]!.code, 'ERR_RATE_SYNC_CONFIG');
  assert.equal(messages[15]!.code, 'ERR_LIMITER_NOT_FOUND');
  assert.equal(c.session.rejected, 14);
  c.session.receive({ v: 1, type: 'acquire', id: 'ok', limiter: 'rate' });
  assert.ok((c.last() as { ok: boolean }).ok, 'still serving');
});

test('a request id reused while the first is waiting is refused', () => {
  const coordinator = new Coordinator(config(), { clock: new FakeClock() });
  const c = client(coordinator);
  c.session.receive({ v: 1, type: 'acquire', id: 1, limiter: 'rate' });
  c.session.receive({ v: 1, type: 'acquire', id: 2, limiter: 'rate' });
  c.session.receive({ v: 1, type: 'acquire', id: 2, limiter: 'rate' });
  assert.match((c.last() as { error: { message: string } }).error.message, /Request id 2 is already waiting/);
});

test('bridge leases are not renewed for them: unrenewed, they expire; renewed, they stay', async () => {
  const clock = new FakeClock();
  const coordinator = new Coordinator(config(), { clock });
  const bridge = client(coordinator, 'bridge');
  bridge.session.receive({ v: 1, type: 'acquire', id: 1, limiter: 'slots' });
  bridge.session.receive({ v: 1, type: 'acquire', id: 2, limiter: 'slots' });
  const [l1, l2] = bridge.inbox.map((m) => ((m as { value: { lease: string } }).value.lease));
  for (let i = 0; i < 4; i++) {
    await clock.advance(20_000);
    bridge.session.receive({ v: 1, type: 'renew', id: `r${i}`, leases: [l1] });
  }
  await flushPromises();
  assert.deepEqual((bridge.last() as { value: unknown }).value, { lost: [] });
  assert.equal(coordinator.metrics('slots').inFlight, 1, 'the unrenewed lease was reclaimed');
  bridge.session.receive({ v: 1, type: 'renew', id: 'late', leases: [l2] });
  await flushPromises();
  assert.deepEqual((bridge.last() as { value: unknown }).value, { lost: [l2] });
});
