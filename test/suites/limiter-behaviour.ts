/**
 * The public API's behaviour, in virtual time, on any store: the same suite runs on the memory
 * store (test/unit/limiter.test.ts), on a real Redis and on a real Redis Cluster
 * (test/integration/redis-*.test.ts), where the scripts decide at the fake clock's time.
 *
 * Ports the behaviour of the original Python library's compliance suite (first acquire
 * immediate, rate enforced, try with timeout, sliding window fill/expiry, concurrency with
 * release/context/exception, combined limits, metrics, state) with our stricter semantics
 * where they differ.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  InvalidArgumentError,
  LimiterNotFoundError,
  RateLimitTimeoutError,
  RateSync,
  type LimiterOptions,
  type Permit,
  type StoreOptions,
} from '../../src/index.js';
import { flushPromises } from '../../src/testing.js';
import { IoFakeClock, virtualTimeStores } from '../helpers/io-clock.js';

export interface BehaviourTarget {
  /** Shown in the suite's name: "memory", "redis", "redis cluster". */
  readonly name: string;
  readonly skip: string | false;
  /** Options of a fresh store (its own key prefix) for one test; undefined: the memory store. */
  store(): StoreOptions | undefined;
  /** Waiters in the long-queue test (each costs a round trip on Redis). */
  readonly longQueue: number;
}

/** Starts a promise and reports whether it settled, without awaiting it. */
function track<T>(p: Promise<T>) {
  const s: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (value) => Object.assign(s, { done: true, value }),
    (error: unknown) => Object.assign(s, { done: true, error }),
  );
  return s;
}

export function limiterBehaviour(target: BehaviourTarget): void {
  const instances: RateSync[] = [];

  function setup(limiters: Record<string, LimiterOptions>) {
    const clock = new IoFakeClock();
    const rs = new RateSync({ clock, configFile: false, storeFactory: virtualTimeStores(clock.inflight), log: () => undefined });
    instances.push(rs);
    const storeOptions = target.store();
    if (storeOptions !== undefined) rs.configureStore('shared', storeOptions);
    const store = storeOptions === undefined ? 'memory' : 'shared';
    for (const [id, options] of Object.entries(limiters)) rs.configureLimiter(id, { store, ...options });
    return { clock, rs, t0: clock.now() };
  }

  describe(`limiter behaviour on ${target.name}`, { skip: target.skip }, () => {
    afterEach(async () => {
      for (const rs of instances.splice(0)) await rs.shutdown();
    });

    describe('token bucket', () => {
      test('the first acquire is immediate', async () => {
        const { rs, clock, t0 } = setup({ api: { ratePerSecond: 10 } });
        const permit = await (await rs.getLimiter('api')).acquire();
        assert.equal(permit.grantedAt, t0);
        assert.equal(clock.now(), t0);
      });

      test('the rate is enforced: the second acquire waits exactly one interval', async () => {
        const { rs, clock, t0 } = setup({ api: { ratePerSecond: 10 } });
        const limiter = await rs.getLimiter('api');
        await limiter.acquire();
        const second = track(limiter.acquire());
        await clock.advance(99);
        assert.equal(second.done, false);
        await clock.advance(1);
        assert.equal(second.done, true);
        assert.equal((second.value as Permit).grantedAt, t0 + 100);
      });

      test('tryAcquire: one immediate try succeeds, then fails without waiting', async () => {
        const { rs } = setup({ api: { ratePerSecond: 1 } });
        const limiter = await rs.getLimiter('api');
        assert.notEqual(await limiter.tryAcquire(), null);
        assert.equal(await limiter.tryAcquire({ timeoutMs: 0 }), null);
      });

      test('tryAcquire with a timeout succeeds when a permit comes in time, else null at the timeout', async () => {
        const { rs, clock, t0 } = setup({ fast: { ratePerSecond: 10 }, slow: { ratePerSecond: 1 } });
        const fast = await rs.getLimiter('fast');
        await fast.acquire();
        const ok = track(fast.tryAcquire({ timeoutMs: 500 }));
        await clock.advance(100);
        assert.notEqual(ok.value, null);

        const slow = await rs.getLimiter('slow');
        await slow.acquire();
        const late = track(slow.tryAcquire({ timeoutMs: 100 }));
        await clock.advance(99);
        assert.equal(late.done, false);
        await clock.advance(1);
        assert.equal(late.value, null);
        assert.equal(clock.now(), t0 + 200);
      });

      test('acquire rejects with RateLimitTimeoutError carrying the limiter id and the timeout', async () => {
        const { rs, clock } = setup({ api: { ratePerSecond: 1 } });
        const limiter = await rs.getLimiter('api');
        await limiter.acquire();
        const waiting = track(limiter.acquire({ timeoutMs: 250 }));
        await clock.advance(250);
        const err = waiting.error as RateLimitTimeoutError;
        assert.ok(err instanceof RateLimitTimeoutError);
        assert.equal(err.name, 'TimeoutError');
        assert.equal(err.code, 'ERR_RATE_LIMIT_TIMEOUT');
        assert.equal(err.limiterId, 'api');
        assert.equal(err.timeoutMs, 250);
        assert.match(err.message, /Timed out after 250 ms waiting for a permit from limiter "api"/);
      });

      test('a fractional rate works: 0.5/s grants one permit every 2 s', async () => {
        const { rs, clock, t0 } = setup({ api: { ratePerSecond: 0.5 } });
        const limiter = await rs.getLimiter('api');
        await limiter.acquire();
        assert.equal(await limiter.tryAcquire({ timeoutMs: 0 }), null);
        const next = track(limiter.acquire());
        await clock.advance(2000);
        assert.equal((next.value as Permit).grantedAt, t0 + 2000);
      });

      test('a high rate lets rapid acquires through: 1000/s, 10 permits in 9 ms', async () => {
        const { rs, clock, t0 } = setup({ api: { ratePerSecond: 1000 } });
        const limiter = await rs.getLimiter('api');
        const all = track(Promise.all(Array.from({ length: 10 }, () => limiter.acquire())));
        await clock.advance(9);
        const permits = all.value as Permit[];
        assert.deepEqual(
          permits.map((p) => p.grantedAt - t0),
          [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        );
      });

      test('burst: idle capacity up to `burst` is granted at once, then the sustained rate', async () => {
        const { rs, clock, t0 } = setup({ api: { ratePerSecond: 10, burst: 5 } });
        const limiter = await rs.getLimiter('api');
        const all = track(Promise.all(Array.from({ length: 7 }, () => limiter.acquire())));
        await clock.advance(200);
        assert.deepEqual(
          (all.value as Permit[]).map((p) => p.grantedAt - t0),
          [0, 0, 0, 0, 0, 100, 200],
        );
      });

      test('a cost above the burst is an error at once, not a wait that never ends', async () => {
        const { rs } = setup({ api: { ratePerSecond: 10, burst: 3 } });
        const limiter = await rs.getLimiter('api');
        await assert.rejects(limiter.acquire({ cost: 4 }), (err: unknown) => {
          assert.ok(err instanceof InvalidArgumentError);
          assert.match(err.message, /Cost 4 can never be granted by limiter "api": at most 3 units fit at once/);
          return true;
        });
      });

      test('bad arguments are refused with a clear error', async () => {
        const { rs } = setup({ api: { ratePerSecond: 10 } });
        const limiter = await rs.getLimiter('api');
        await assert.rejects(limiter.acquire({ timeoutMs: -1 }), /Expected `timeoutMs` to be a number >= 0/);
        await assert.rejects(limiter.acquire({ cost: 1.5 }), /Expected `cost` to be an integer >= 1, got 1.5/);
        await assert.rejects(limiter.acquire({ cost: 0 }), InvalidArgumentError);
      });
    });

    describe('waiting', () => {
      test('waiters are served FIFO, a large request is not starved by small ones', async () => {
        const { rs, clock } = setup({ api: { ratePerSecond: 10, burst: 3 } });
        const limiter = await rs.getLimiter('api');
        await limiter.acquire({ cost: 3 });
        const order: string[] = [];
        const big = limiter.acquire({ cost: 3 }).then(() => order.push('big'));
        const small = limiter.acquire({ cost: 1 }).then(() => order.push('small'));
        // A one-try request behind them is refused even though a unit is free: the FIFO comes first.
        await clock.advance(100);
        assert.equal(await limiter.tryAcquire({ timeoutMs: 0 }), null);
        await clock.advance(300);
        await Promise.all([big, small]);
        assert.deepEqual(order, ['big', 'small']);
      });

      test('an AbortSignal cancels a wait; the next waiter gets the permit and nothing is consumed', async () => {
        const { rs, clock, t0 } = setup({ api: { ratePerSecond: 10 } });
        const limiter = await rs.getLimiter('api');
        await limiter.acquire();
        const controller = new AbortController();
        const cancelled = track(limiter.acquire({ signal: controller.signal }));
        const next = track(limiter.acquire());
        await clock.advance(50);
        controller.abort(new Error('job cancelled'));
        await flushPromises();
        assert.equal((cancelled.error as Error).message, 'job cancelled');
        await clock.advance(50);
        assert.equal((next.value as Permit).grantedAt, t0 + 100);
        assert.equal((await limiter.metrics()).cancellations, 1);
      });

      test('an already aborted signal rejects at once', async () => {
        const { rs } = setup({ api: { ratePerSecond: 10 } });
        const limiter = await rs.getLimiter('api');
        await assert.rejects(limiter.acquire({ signal: AbortSignal.abort() }), { name: 'AbortError' });
        assert.equal((await limiter.metrics()).acquisitions, 0);
      });

      test('the limiter default timeout applies when a call gives none', async () => {
        const { rs, clock } = setup({ api: { ratePerSecond: 1, timeout: 0.3 } });
        const limiter = await rs.getLimiter('api');
        await limiter.acquire();
        const waiting = track(limiter.acquire());
        await clock.advance(300);
        assert.ok(waiting.error instanceof RateLimitTimeoutError);
        assert.equal((waiting.error as RateLimitTimeoutError).timeoutMs, 300);
      });

      test(`${target.longQueue} waiters on one key are served in order at the exact rate`, async () => {
        const { rs, clock, t0 } = setup({ api: { ratePerSecond: 1000, burst: 1 } });
        const limiter = await rs.getLimiter('api');
        const started = performance.now();
        const grants: number[] = [];
        const all = Promise.all(
          Array.from({ length: target.longQueue }, (_, i) => limiter.acquire({ timeoutMs: 60_000 }).then((p) => (grants[i] = p.grantedAt))),
        );
        await clock.advance(target.longQueue - 1);
        await all;
        assert.equal(grants.length, target.longQueue);
        grants.forEach((at, i) => assert.equal(at, t0 + i));
        // O(1) per grant: well under a second of real time on any machine.
        assert.ok(performance.now() - started < 5000);
      });
    });

    describe('sliding window', () => {
      test('allows up to the limit, then refuses', async () => {
        const { rs } = setup({ w: { algorithm: 'sliding_window', limit: 5, windowSeconds: 60 } });
        const limiter = await rs.getLimiter('w');
        for (let i = 0; i < 5; i++) assert.notEqual(await limiter.tryAcquire(), null);
        assert.equal(await limiter.tryAcquire(), null);
      });

      test('the window frees each slot exactly W after its grant', async () => {
        const { rs, clock } = setup({ w: { algorithm: 'sliding_window', limit: 3, windowSeconds: 1 } });
        const limiter = await rs.getLimiter('w');
        for (let i = 0; i < 3; i++) await limiter.acquire();
        assert.equal(await limiter.tryAcquire(), null);
        await clock.advance(999);
        assert.equal(await limiter.tryAcquire(), null);
        await clock.advance(1);
        assert.notEqual(await limiter.tryAcquire(), null);
      });

      test('a blocking acquire wakes at the instant a slot frees, not a poll later', async () => {
        const { rs, clock, t0 } = setup({ w: { algorithm: 'sliding_window', limit: 2, windowSeconds: 1 } });
        const limiter = await rs.getLimiter('w');
        await limiter.acquire();
        await clock.advance(300);
        await limiter.acquire();
        const third = track(limiter.acquire());
        const fourth = track(limiter.tryAcquire({ timeoutMs: 1500 }));
        await clock.advance(1100);
        assert.equal((third.value as Permit).grantedAt, t0 + 1000);
        assert.equal((fourth.value as Permit).grantedAt, t0 + 1300);
      });
    });

    describe('concurrency', () => {
      test('max_concurrent is enforced and release frees a slot', async () => {
        const { rs } = setup({ c: { maxConcurrent: 2 } });
        const limiter = await rs.getLimiter('c');
        const a = await limiter.acquire();
        await limiter.acquire();
        assert.equal(await limiter.tryAcquire(), null);
        a.release();
        assert.notEqual(await limiter.tryAcquire(), null);
      });

      test('over-release never raises capacity', async () => {
        const { rs } = setup({ c: { maxConcurrent: 1 } });
        const limiter = await rs.getLimiter('c');
        const a = await limiter.acquire();
        a.release();
        a.release();
        a.release();
        await limiter.acquire();
        assert.equal(await limiter.tryAcquire(), null);
        assert.equal((await limiter.state()).inFlight, 1);
      });

      test('withPermit releases on return and on throw; the error propagates', async () => {
        const { rs } = setup({ c: { maxConcurrent: 1 } });
        const limiter = await rs.getLimiter('c');
        assert.equal(await limiter.withPermit(async () => 42), 42);
        await assert.rejects(
          limiter.withPermit(() => {
            throw new Error('boom');
          }),
          /boom/,
        );
        assert.equal((await limiter.state()).inFlight, 0);
        assert.notEqual(await limiter.tryAcquire(), null);
      });

      test('await using releases at the end of the block', async () => {
        const { rs } = setup({ c: { maxConcurrent: 1 } });
        const limiter = await rs.getLimiter('c');
        {
          await using permit = await limiter.acquire();
          assert.equal(permit.released, false);
          assert.equal((await limiter.state()).inFlight, 1);
        }
        assert.equal((await limiter.state()).inFlight, 0);
      });

      test('ten simultaneous one-try requests on max_concurrent 3: exactly three win', async () => {
        const { rs } = setup({ c: { maxConcurrent: 3 } });
        const limiter = await rs.getLimiter('c');
        const results = await Promise.all(Array.from({ length: 10 }, () => limiter.tryAcquire({ timeoutMs: 0 })));
        assert.equal(results.filter((p) => p !== null).length, 3);
      });

      test('a blocked acquire is granted the moment a holder releases, in FIFO order', async () => {
        const { rs, clock } = setup({ c: { maxConcurrent: 1 } });
        const limiter = await rs.getLimiter('c');
        const holder = await limiter.acquire();
        const order: number[] = [];
        const waiters = [1, 2, 3].map((n) => limiter.withPermit(() => order.push(n)));
        await clock.advance(200);
        assert.deepEqual(order, []);
        holder.release();
        await Promise.all(waiters);
        assert.deepEqual(order, [1, 2, 3]);
      });

      test('50 tasks on max_concurrent 5 never have more than 5 running', async () => {
        const { rs, clock } = setup({ c: { maxConcurrent: 5 } });
        const limiter = await rs.getLimiter('c');
        let running = 0;
        let peak = 0;
        const tasks = Array.from({ length: 50 }, () =>
          limiter.withPermit(async () => {
            running++;
            peak = Math.max(peak, running);
            await new Promise<void>((resolve) => clock.setTimeout(resolve, 10));
            running--;
          }),
        );
        await clock.advance(100);
        await Promise.all(tasks);
        assert.equal(peak, 5);
      });

      test('a held lease is renewed while its holder lives: holding it for many lease periods is safe', async () => {
        const { rs, clock } = setup({ c: { maxConcurrent: 1, leaseSeconds: 1 } });
        const limiter = await rs.getLimiter('c');
        const permit = await limiter.acquire();
        await clock.advance(10_000);
        assert.equal(await limiter.tryAcquire(), null);
        permit.release();
        assert.notEqual(await limiter.tryAcquire(), null);
      });
    });

    describe('combined limits', () => {
      test('rate + concurrency: both enforced, and a refusal by one consumes nothing of the other', async () => {
        const { rs, clock, t0 } = setup({ rc: { ratePerSecond: 10, maxConcurrent: 1 } });
        const limiter = await rs.getLimiter('rc');
        const a = await limiter.acquire();
        await clock.advance(500);
        assert.equal(await limiter.tryAcquire(), null); // concurrency full; the rate unit stays unspent
        a.release();
        const b = await limiter.acquire();
        assert.equal(b.grantedAt, t0 + 500);
        b.release();
        const c = track(limiter.acquire());
        await clock.advance(100);
        assert.equal((c.value as Permit).grantedAt, t0 + 600);
      });

      test('sliding window + concurrency: both enforced', async () => {
        const { rs } = setup({ wc: { algorithm: 'sliding_window', limit: 5, windowSeconds: 60, maxConcurrent: 2 } });
        const limiter = await rs.getLimiter('wc');
        const a = await limiter.acquire();
        await limiter.acquire();
        assert.equal(await limiter.tryAcquire(), null);
        a.release();
        assert.notEqual(await limiter.tryAcquire(), null);
      });

      test('window exhausted while concurrency is available: refused', async () => {
        const { rs } = setup({ wc: { algorithm: 'sliding_window', limit: 2, windowSeconds: 60, maxConcurrent: 5 } });
        const limiter = await rs.getLimiter('wc');
        for (let i = 0; i < 2; i++) (await limiter.acquire()).release();
        assert.equal(await limiter.tryAcquire(), null);
      });
    });

    describe('state and metrics', () => {
      test('state() consumes nothing and reports remaining, retryAt, resetAt, inFlight, waiting', async () => {
        const { rs, t0 } = setup({ w: { algorithm: 'sliding_window', limit: 2, windowSeconds: 60 } });
        const limiter = await rs.getLimiter('w');
        for (let i = 0; i < 11; i++) await limiter.state();
        assert.deepEqual(await limiter.state(), {
          limiter: 'w',
          allowed: true,
          remaining: 2,
          retryAt: t0,
          resetAt: t0,
          inFlight: 0,
          waiting: 0,
        });
        await limiter.acquire();
        await limiter.acquire();
        const s = await limiter.state();
        assert.equal(s.allowed, false);
        assert.equal(s.remaining, 0);
        assert.equal(s.retryAt, t0 + 60_000);
        assert.equal(s.resetAt, t0 + 60_000);
      });

      test('state() of a slow token bucket is exact (the original reported rate < 1 as never allowed)', async () => {
        const { rs } = setup({ slow: { ratePerSecond: 0.2, burst: 2 } });
        const s = await (await rs.getLimiter('slow')).state();
        assert.equal(s.allowed, true);
        assert.equal(s.remaining, 2);
      });

      test('metrics count acquisitions, timeouts, waits, in-flight and waiting, per limiter', async () => {
        const { rs, clock } = setup({ a: { ratePerSecond: 5, maxConcurrent: 10 }, b: { ratePerSecond: 5 } });
        const a = await rs.getLimiter('a');
        const b = await rs.getLimiter('b');
        assert.deepEqual(await a.metrics(), {
          acquisitions: 0,
          timeouts: 0,
          cancellations: 0,
          totalWaitMs: 0,
          maxWaitMs: 0,
          avgWaitMs: 0,
          inFlight: 0,
          waiting: 0,
          fallbackAcquisitions: 0,
          refusals: 0,
          storeErrors: 0,
        });
        const permits = track(Promise.all([a.acquire(), a.acquire(), a.acquire()]));
        await clock.advance(0);
        const pending = await a.metrics();
        assert.equal(pending.waiting, 2);
        await clock.advance(400);
        await b.acquire();
        assert.equal(await b.tryAcquire({ timeoutMs: 0 }), null);
        const m = await a.metrics();
        assert.equal(m.acquisitions, 3);
        assert.equal(m.totalWaitMs, 600);
        assert.equal(m.maxWaitMs, 400);
        assert.equal(m.avgWaitMs, 200);
        assert.equal(m.inFlight, 3);
        assert.equal(m.waiting, 0);
        assert.equal((await b.metrics()).acquisitions, 1);
        assert.equal((await b.metrics()).timeouts, 1);
        // A request that waited and ran out of time is a timeout, not a refusal.
        const late = b.acquire({ timeoutMs: 50 }).catch((err: unknown) => err);
        await clock.advance(50);
        assert.ok((await late) instanceof RateLimitTimeoutError);
        assert.deepEqual([(await b.metrics()).timeouts, (await b.metrics()).refusals], [2, 1]);
        for (const p of permits.value as Permit[]) p.release();
        assert.equal((await a.metrics()).inFlight, 0);
      });
    });

    describe('clones', () => {
      test('getOrCloneLimiter: id base:unique, same instance, settings of the base, own state', async () => {
        const { rs } = setup({ base_api: { ratePerSecond: 10, maxConcurrent: 5, timeout: 1 } });
        const one = await rs.getOrCloneLimiter('base_api', '192.168.1.1');
        assert.equal(one.id, 'base_api:192.168.1.1');
        assert.equal(await rs.getOrCloneLimiter('base_api', '192.168.1.1'), one);
        assert.equal(one.config.ratePerSecond, 10);
        assert.equal(one.config.maxConcurrent, 5);
        assert.equal(one.config.timeout, 1);
        const [x, y] = await Promise.all([rs.getOrCloneLimiter('base_api', 'user:123'), rs.getOrCloneLimiter('base_api', 'user:123')]);
        assert.equal(x, y);
        await one.acquire();
        assert.notEqual(await x.tryAcquire(), null, 'clones do not share state');
        assert.equal(await one.tryAcquire(), null);
      });

      test('a missing base is a LimiterNotFoundError naming it', async () => {
        const { rs } = setup({ api: { ratePerSecond: 1 } });
        await assert.rejects(rs.getOrCloneLimiter('nonexistent', 'x'), (err: unknown) => {
          assert.ok(err instanceof LimiterNotFoundError);
          assert.equal(err.code, 'ERR_LIMITER_NOT_FOUND');
          assert.match(err.message, /Limiter "nonexistent" not found \(configured: api\)/);
          return true;
        });
        await assert.rejects(rs.getLimiter('nope'), LimiterNotFoundError);
      });


      test('cloneLimiter registers overridden settings; repeating it is harmless, changing it is an error', async () => {
        const { rs, clock } = setup({ api: { ratePerSecond: 10 } });
        const fast = await rs.cloneLimiter('api', 'api_fast', { ratePerSecond: 100 });
        assert.equal(fast.config.ratePerSecond, 100);
        assert.equal((await rs.getLimiter('api_fast')).id, 'api_fast');
        await rs.cloneLimiter('api', 'api_fast', { ratePerSecond: 100 });
        await assert.rejects(rs.cloneLimiter('api', 'api_fast', { ratePerSecond: 5 }), /already exists with other settings/);
        await fast.acquire();
        const next = track(fast.acquire());
        await clock.advance(10);
        assert.equal(next.done, true);
      });
    });

    describe('lifecycle', () => {
      test('shutdown refuses waiters with CoordinatorUnavailableError and later calls too', async () => {
        const { rs } = setup({ api: { ratePerSecond: 1 } });
        const limiter = await rs.getLimiter('api');
        await limiter.acquire();
        const waiting = track(limiter.acquire());
        await rs.shutdown();
        await flushPromises();
        assert.equal((waiting.error as { code: string }).code, 'ERR_COORDINATOR_UNAVAILABLE');
        await assert.rejects(limiter.acquire(), { code: 'ERR_COORDINATOR_UNAVAILABLE' });
      });
    });
  });
}

