/**
 * Redis failing under load, in real time: killed mid-run and restarted 2 s later (with and
 * without fail_closed), and hung (SIGSTOP). No crash, no call past its timeout, no
 * over-admission beyond the fallback share, decisions back in Redis within 2 s.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateSync, StoreUnavailableError } from '../../src/index.js';
import { createStore, RedisStore } from '../../src/stores/index.js';
import { worstExcess } from '../helpers/hosts.js';
import { ownRedis, redisSkip, uniquePrefix } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Call {
  start: number;
  end: number;
  outcome: 'granted' | 'timeout' | 'unavailable' | 'other';
  grantedAt?: number;
}

/** A host whose log lines and Redis store the test can see. */
function host(url: string, failClosed: boolean, commandTimeout = 0.5) {
  const events: { at: number; event: string }[] = [];
  const stores: RedisStore[] = [];
  const rs = new RateSync({
    configFile: false,
    log: (event) => events.push({ at: performance.now(), event }),
    storeFactory: (config, clock, hooks) => {
      const store = createStore(config, clock, hooks);
      if (store instanceof RedisStore) stores.push(store);
      return store;
    },
  });
  rs.configureStore('r', { engine: 'redis', url, keyPrefix: uniquePrefix('faults'), expectedHosts: 2, commandTimeout, connectTimeout: 1 });
  rs.configureLimiter('api', { store: 'r', ratePerSecond: 100, burst: 4, failClosed });
  return { rs, events, stores };
}

/** `callers` loops taking permits with `timeoutMs` until `endAt` (performance.now() time). */
async function load(rs: RateSync, callers: number, timeoutMs: number, endAt: number): Promise<Call[]> {
  const limiter = await rs.getLimiter('api');
  const calls: Call[] = [];
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < endAt) {
        const start = performance.now();
        try {
          const permit = await limiter.acquire({ timeoutMs });
          calls.push({ start, end: performance.now(), outcome: 'granted', grantedAt: permit.grantedAt });
        } catch (err) {
          const outcome = (err as Error).name === 'TimeoutError' ? 'timeout' : err instanceof StoreUnavailableError ? 'unavailable' : 'other';
          calls.push({ start, end: performance.now(), outcome });
          if (outcome !== 'timeout') await sleep(10);
        }
      }
    }),
  );
  return calls;
}

for (const failClosed of [false, true]) {
  test(`Redis killed mid-run and restarted 2 s later (fail_closed = ${failClosed})`, { skip: redisSkip, timeout: 60_000 }, async () => {
    const redis = await ownRedis();
    const { rs, events } = host(redis.url, failClosed);
    try {
      await (await rs.getLimiter('api')).state();
      const t0 = performance.now();
      const timeline = (async () => {
        await sleep(1500);
        const killedAt = performance.now();
        await redis.kill();
        await sleep(2000);
        await redis.restart();
        return { killedAt, restartedAt: performance.now() };
      })();
      const calls = await load(rs, 16, 300, t0 + 6000);
      const { killedAt, restartedAt } = await timeline;
      const metrics = await (await rs.getLimiter('api')).metrics();
      const recovered = events.find((e) => e.event === 'store_recovered' && e.at > restartedAt - 1000);
      const granted = calls.filter((c) => c.outcome === 'granted');
      const longest = Math.max(...calls.map((c) => c.end - c.start));
      console.log(
        `fail_closed=${failClosed}: ${granted.length} grants (${metrics.fallbackAcquisitions} from the fallback share), ` +
          `${calls.filter((c) => c.outcome === 'unavailable').length} refused as unavailable, ` +
          `${calls.filter((c) => c.outcome === 'timeout').length} timeouts; longest call ${longest.toFixed(0)} ms; ` +
          `back in Redis ${recovered === undefined ? 'never' : `${(recovered.at - restartedAt).toFixed(0)} ms`} after the restart; ` +
          `killed at ${(killedAt - t0).toFixed(0)} ms, restarted at ${(restartedAt - t0).toFixed(0)} ms; ` +
          `grants between kill and recovery: ${granted.filter((c) => (c.grantedAt as number) - performance.timeOrigin > killedAt && (c.grantedAt as number) - performance.timeOrigin < (recovered?.at ?? 0)).length}`,
      );

      assert.deepEqual(calls.filter((c) => c.outcome === 'other'), [], 'no other errors');
      assert.ok(longest <= 300 + 250, `a call took ${longest.toFixed(0)} ms with a 300 ms timeout`);
      assert.ok(recovered !== undefined && recovered.at - restartedAt < 2000, 'decisions back in Redis within 2 s of its restart');
      assert.ok(events.some((e) => e.event === 'store_unavailable' && e.at >= killedAt), 'the outage was logged');

      const epoch = performance.timeOrigin;
      const outage = granted.filter((c) => (c.grantedAt as number) - epoch > killedAt + 50 && (c.grantedAt as number) - epoch < restartedAt);
      if (failClosed) {
        assert.equal(metrics.fallbackAcquisitions, 0);
        assert.equal(outage.length, 0, 'fail_closed: nothing granted while Redis was down');
        const refusals = calls.filter((c) => c.outcome === 'unavailable');
        assert.ok(refusals.length > 0 && refusals.every((c) => c.end - c.start < 600), 'refused fast (at most one command timeout)');
        // The outage does not flood the log: one line when it starts, one when decisions are back.
        const lines = events.filter((e) => e.event.startsWith('store_error')).map((e) => e.event);
        console.log(`fail_closed=true: ${refusals.length} refusals logged as ${lines.join(', ')}`);
        assert.deepEqual(lines.filter((e) => e === 'store_error'), ['store_error']);
        assert.ok(lines.length <= 3, lines.join(', '));
        assert.ok(events.some((e) => e.event === 'store_errors_ended' && e.at >= restartedAt), 'the end of the errors is logged');
      } else {
        assert.ok(metrics.fallbackAcquisitions > 0, 'the fallback share was used');
        // The local share: 100/s / 2 expected hosts, burst 4 / 2.
        const span = (restartedAt - killedAt) / 1000;
        assert.ok(outage.length <= 2 + 50 * span + 1, `${outage.length} grants in a ${span.toFixed(1)} s outage (share: 2 + 50/s)`);
        assert.ok(outage.length >= 0.8 * 50 * (span - 0.6), `the share was used: ${outage.length} grants in ${span.toFixed(1)} s`);
      }
      // Over the whole run: the quota, plus the fallback's burst, plus one burst of the restarted
      // (empty) Redis, in any window.
      const excess = worstExcess(granted.map((c) => c.grantedAt as number), 4 + 2 + 4, 100);
      assert.ok(excess <= 0.01, `a window exceeded burst + rate·T + fallback burst + restart burst by ${excess}`);
      const back = (recovered as { at: number }).at + 100;
      const afterwards = granted.filter((c) => (c.grantedAt as number) - epoch > back).length;
      assert.ok(afterwards >= 0.8 * 100 * ((t0 + 6000 - back) / 1000), `granting again after recovery: ${afterwards} grants`);
    } finally {
      await rs.shutdown();
      await redis.stop();
    }
  });
}

test('a hung Redis (SIGSTOP): no call waits past its timeout; fallback after command_timeout; back after SIGCONT', { skip: redisSkip, timeout: 30_000 }, async () => {
  const redis = await ownRedis();
  const lenient = host(redis.url, false, 0.3);
  const strict = host(redis.url, true, 0.3);
  try {
    await Promise.all([lenient, strict].map(async (h) => (await h.rs.getLimiter('api')).state()));
    process.kill(redis.pid, 'SIGSTOP');
    const stoppedAt = performance.now();
    const [a, b] = await Promise.all([load(lenient.rs, 4, 200, stoppedAt + 1500), load(strict.rs, 4, 200, stoppedAt + 1500)]);
    process.kill(redis.pid, 'SIGCONT');
    const contAt = performance.now();
    const longest = Math.max(...[...(a as Call[]), ...(b as Call[])].map((c) => c.end - c.start));
    assert.ok(longest <= 200 + 250, `a call took ${longest.toFixed(0)} ms with a 200 ms timeout`);
    assert.ok((a as Call[]).some((c) => c.outcome === 'granted'), 'the lenient limiter granted from its share');
    assert.ok((b as Call[]).some((c) => c.outcome === 'unavailable'), 'the fail_closed limiter refused');
    assert.equal((b as Call[]).filter((c) => c.outcome === 'granted' && c.start > stoppedAt + 400).length, 0);
    for (const h of [lenient, strict]) {
      while (h.stores[0]?.status.mode !== 'up') {
        assert.ok(performance.now() - contAt < 2000, 'back in Redis within 2 s of SIGCONT');
        await sleep(20);
      }
    }
    assert.ok((await (await strict.rs.getLimiter('api')).acquire({ timeoutMs: 1000 })).grantedAt > 0);
  } finally {
    process.kill(redis.pid, 'SIGCONT');
    await Promise.all([lenient.rs.shutdown(), strict.rs.shutdown()]);
    await redis.stop();
  }
});
