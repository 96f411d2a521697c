/**
 * Store errors do not flood the log: one line when a store starts failing, a summary with a count
 * at most every 10 s while it keeps failing, and one line when it decides again — per store.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateSync, StoreUnavailableError } from '../../src/index.js';
import { StoreErrorLog } from '../../src/coordinator/store-error-log.js';
import { MemoryStore, type Store } from '../../src/stores/index.js';
import { FakeClock } from '../../src/testing.js';

type Line = { at: number; event: string; fields: Record<string, unknown> };

function recorder(clock: FakeClock): { lines: Line[]; log: (event: string, fields: Record<string, unknown>) => void } {
  const lines: Line[] = [];
  return { lines, log: (event, fields) => lines.push({ at: clock.now(), event, fields }) };
}

test('the first error at once, then a count every 10 s, then the end with the total; stores apart', async () => {
  const clock = new FakeClock();
  const { lines, log } = recorder(clock);
  const errors = new StoreErrorLog(clock, log);
  for (let ms = 0; ms < 25_000; ms += 10) {
    errors.error('redis', ms % 20 === 0 ? 'api' : 'other', `down ${ms}`);
    if (ms === 5000) errors.error('cache', 'api', 'wrong type');
    await clock.advance(10);
  }
  errors.ok('redis');
  errors.ok('redis'); // nothing more: it is no longer failing

  const redis = lines.filter((l) => l.fields['store'] === 'redis');
  assert.deepEqual(
    redis.map((l) => [l.at, l.event]),
    [
      [0, 'store_error'],
      [10_000, 'store_errors'],
      [20_000, 'store_errors'],
      [25_000, 'store_errors'],
      [25_000, 'store_errors_ended'],
    ],
  );
  assert.deepEqual(redis[0]?.fields, { store: 'redis', limiter: 'api', error: 'down 0' });
  assert.deepEqual(redis[1]?.fields, { store: 'redis', count: 999, limiters: ['other', 'api'], lastError: 'down 9990', periodMs: 10_000 });
  const counts = redis.filter((l) => l.event === 'store_errors').map((l) => l.fields['count'] as number);
  assert.equal(1 + counts.reduce((a, b) => a + b, 0), 2500, 'every error is counted once');
  assert.deepEqual(redis.at(-1)?.fields, { store: 'redis', errors: 2500, durationMs: 25_000 });
  assert.deepEqual(
    lines.filter((l) => l.fields['store'] === 'cache').map((l) => l.event),
    ['store_error'],
    'another store has its own first line; one error is not repeated in a summary',
  );

  // Failing again later starts over with a first line.
  errors.error('redis', 'api', 'down again');
  assert.equal(lines.at(-1)?.event, 'store_error');
  errors.close();
  assert.equal(clock.pendingTimers(true), 0, 'no timer left armed');
});

/** A memory store that can be switched off: while off, every call fails like an unreachable backend. */
class SwitchableStore implements Store {
  readonly engine = 'test';
  readonly synchronous = false;
  readonly id: string;
  readonly #inner: MemoryStore;
  down = false;
  failures = 0;

  constructor(id: string, clock: FakeClock) {
    this.id = id;
    this.#inner = new MemoryStore(id, { clock });
  }

  async acquire(...args: Parameters<Store['acquire']>) {
    if (this.down && ++this.failures) throw new StoreUnavailableError(this.id, 'the backend is down', args[0].id);
    return this.#inner.acquire(...args);
  }

  async release(...args: Parameters<Store['release']>) {
    return this.#inner.release(...args);
  }

  async renew(...args: Parameters<Store['renew']>) {
    return this.#inner.renew(...args);
  }

  async inspect(...args: Parameters<Store['inspect']>) {
    return this.#inner.inspect(...args);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

test('a coordinator under load on a failing store writes a handful of lines, not one per failed batch', async () => {
  const clock = new FakeClock();
  const { lines, log } = recorder(clock);
  let store: SwitchableStore | undefined;
  const rs = new RateSync({
    clock,
    configFile: false,
    log,
    storeFactory: (config) => (store = new SwitchableStore(config.id, clock)),
  });
  rs.configureLimiter('api', { store: 'memory', ratePerSecond: 50, burst: 5 });
  const limiter = await rs.getLimiter('api');
  const s = store as SwitchableStore;
  s.down = true;
  let refused = 0;
  // 10 callers retrying every 10 ms for 30 s: thousands of failed store calls.
  const until = 30_000;
  const callers = Array.from({ length: 10 }, async () => {
    while (clock.now() < until) {
      try {
        (await limiter.acquire({ timeoutMs: 100 })).release();
      } catch (err) {
        assert.ok(err instanceof StoreUnavailableError);
        refused++;
      }
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 10));
    }
  });
  for (let t = 0; t < until; t += 100) await clock.advance(100);
  s.down = false;
  await clock.advance(20);
  await Promise.all(callers);
  await (await rs.getLimiter('api')).acquire({ timeoutMs: 1000 });

  const events = lines.map((l) => l.event);
  assert.ok(refused > 1000 && s.failures > 1000, `${refused} refusals in ${s.failures} failed store calls`);
  assert.equal(events.filter((e) => e === 'store_error').length, 1);
  assert.equal(events.filter((e) => e === 'store_errors').length, 3, events.join(' '));
  const ended = lines.find((l) => l.event === 'store_errors_ended');
  assert.equal(ended?.fields['errors'], s.failures, 'every failed store call is counted');
  await rs.shutdown();
});
