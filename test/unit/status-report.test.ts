/**
 * coordinator.snapshot() and the status report built from it (what /status.json answers and
 * `ratesync status` prints), from real acquisitions in virtual time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalize, render } from '../../src/cli/status.js';
import { Session } from '../../src/coordinator/session.js';
import { RateSync } from '../../src/index.js';
import { countsOf, History } from '../../src/status/history.js';
import { buildReport } from '../../src/status/report.js';
import { FakeClock } from '../../src/testing.js';

function setup() {
  const clock = new FakeClock();
  const rs = new RateSync({ clock, configFile: false });
  rs.configureLimiter('api', { store: 'memory', ratePerSecond: 10, burst: 2 });
  rs.configureLimiter('slots', { store: 'memory', maxConcurrent: 3 });
  const history = new History(() => countsOf(rs.coordinator.snapshot()), 10);
  const report = (keys = 5) => buildReport({ coordinator: rs.coordinator, history, config: 'test.toml', startedAt: 0 }, { keys, historySeconds: 10 });
  return { rs, clock, history, report };
}

test('snapshot: busiest keys by waiting + in flight, clients with what their hello said', async () => {
  const { rs } = setup();
  const c = rs.coordinator;
  const busy = await rs.getOrCloneLimiter('slots', 'busy');
  const calm = await rs.getOrCloneLimiter('slots', 'calm');
  const held = [await busy.acquire(), await busy.acquire(), await busy.acquire(), await calm.acquire()];
  const queued = [busy.acquire(), busy.acquire()];
  const fork = new Session(c, () => undefined, 'fork', 'pid 1 connection 1');
  fork.receive({ v: 1, type: 'hello', client: { kind: 'fork', pid: 4242, threadId: 3, label: 'image resizer' } });

  const snap = c.snapshot({ keys: 1 });
  const slots = snap.limiters.find((l) => l.id === 'slots');
  assert.deepEqual(slots?.keys, [{ id: 'slots:busy', waiting: 2, inFlight: 3 }], 'only the busiest, as asked');
  assert.equal(slots?.metrics.inFlight, 4);
  assert.equal(slots?.metrics.waiting, 2);
  assert.equal(c.snapshot().limiters[0]?.keys.length, 0, 'no key walk unless asked');
  assert.deepEqual(
    snap.clients.map(({ kind, label, pid, threadId, waiting, leases }) => ({ kind, label, pid, threadId, waiting, leases })),
    [
      { kind: 'local', label: `main thread of pid ${process.pid}`, pid: undefined, threadId: undefined, waiting: 2, leases: 4 },
      { kind: 'fork', label: 'image resizer', pid: 4242, threadId: 3, waiting: 0, leases: 0 },
    ],
  );
  assert.deepEqual(snap.stores, [{ id: 'memory', engine: 'memory' }]);
  fork.close();
  for (const p of held) p.release();
  for (const p of await Promise.all(queued)) p.release();
  await rs.shutdown();
  assert.equal(c.snapshot().closed, true);
});

test('report: grants in the window and per second, refusals, p99 wait, remaining, history', async () => {
  const { rs, clock, history, report } = setup();
  const api = await rs.getLimiter('api');
  history.sample();
  // 12 grants in 1 s: the burst of 2, then one every 100 ms; the last ones waited.
  const grants = Array.from({ length: 12 }, () => api.acquire());
  await clock.advance(1000);
  history.sample();
  await Promise.all(grants);
  assert.equal(await api.tryAcquire({ timeoutMs: 0 }), null);
  await clock.advance(1000);
  history.sample();

  const r = await report();
  assert.equal(r.version, 1);
  assert.deepEqual(r.limiters.map((l) => l.id), ['api', 'slots']);
  const l = r.limiters[0]!;
  assert.equal(l.quota, '10/s, burst 2');
  assert.equal(l.quotaPerSecond, 10);
  assert.deepEqual(l.grants, { total: 12, lastWindow: 12, perSecond: 12 / 2 }, 'over the samples of the last 5 s (2 s here)');
  assert.deepEqual(l.refusals, { total: 1, lastWindow: 1 });
  assert.deepEqual(l.timeouts, { total: 0, lastWindow: 0 });
  assert.equal(l.remaining, 2, 'refilled after a quiet second');
  assert.ok(l.waitP99Ms !== null && l.waitP99Ms > 500 && l.waitP99Ms <= 1000, `p99 wait ${l.waitP99Ms}`);
  assert.deepEqual(l.history, [0, 0, 0, 0, 0, 0, 0, 0, 12, 0], 'grants per second, oldest first');
  assert.equal(r.windowSeconds, 2);
  assert.equal(r.limiters[1]?.quota, '3 at once');
  assert.equal(r.limiters[1]?.waitP99Ms, null);

  const text = render(r, 'http://127.0.0.1:9477');
  assert.match(text, /^limiter +quota +grants\/2s +rate\/s +remaining +in flight +waiting +refusals +timeouts +p99 wait +fallback$/m);
  assert.match(text, /^api +10\/s, burst 2 +12 +6 +2 +0 +0 +1 +0 +\d+ ms +no$/m);
  assert.match(text, /^slots +3 at once +0 +0 +3 +0\/3 +0 +0 +0 +- +no$/m);
  assert.match(text, /^clients: 1 local$/m);
  await rs.shutdown();
});

test('status --url takes a URL, host:port or a bare port', () => {
  assert.equal(normalize('http://127.0.0.1:9477/'), 'http://127.0.0.1:9477');
  assert.equal(normalize('localhost:9100'), 'http://localhost:9100');
  assert.equal(normalize('9100'), 'http://127.0.0.1:9100');
});
