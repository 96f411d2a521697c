/**
 * The Lua scripts against their TypeScript twin (src/algorithms): the shared vectors, random
 * sequences decided by both and compared answer by answer, batches, and what the scripts write
 * (nothing on a refusal; keys that expire once they no longer matter, on Redis's clock).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { leaseRelease, leaseRenew, newLeaseTable } from '../../src/algorithms/leases.js';
import { decide, inspect, type KeyState, type PolicyParams } from '../../src/algorithms/policy.js';
import { limiterKeys, type LimiterKeys } from '../../src/stores/redis/keys.js';
import { acquireScript, defineScripts, inspectScript, releaseScript, renewScript } from '../../src/stores/redis/scripts.js';
import { redisSkip, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';

interface Step {
  at: number;
  op: 'acquire' | 'release' | 'renew';
  cost?: number;
  lease?: string;
  expect?: { granted?: boolean; retryAt?: number | null; renewed?: boolean };
}
const vectors = JSON.parse(readFileSync(new URL('../vectors/policy.json', import.meta.url), 'utf8')) as {
  cases: { name: string; policy: PolicyParams; steps: Step[] }[];
};

const ctx = { storeId: 'lua-test', limiterId: 'k' };
let redis: Redis;

before(async () => {
  if (redisSkip !== false) return;
  redis = new Redis(sharedRedisUrl as string);
  defineScripts(redis);
});

after(() => redis?.disconnect());

const fresh = (label: string): LimiterKeys => limiterKeys(uniquePrefix(label), 'k');

describe('shared vectors (test/vectors/policy.json) on the Lua scripts', { skip: redisSkip }, () => {
  for (const c of vectors.cases) {
    test(c.name, async () => {
      const keys = fresh('vector');
      for (const [i, step] of c.steps.entries()) {
        const where = `step ${i} (${step.op} at ${step.at})`;
        if (step.op === 'acquire') {
          const r = await acquireScript(redis, keys, step.at, c.policy, [{ cost: step.cost ?? 1, leaseId: step.lease ?? null }], ctx);
          assert.equal(r.granted === 1, step.expect?.granted, `${where}: granted`);
          if (r.granted === 0) assert.equal(r.retryAt, step.expect?.retryAt ?? Infinity, `${where}: retryAt`);
          assert.equal(r.now, step.at, `${where}: the script decided at the given instant`);
        } else if (step.op === 'release') {
          await releaseScript(redis, keys, step.lease as string, '', '', ctx);
        } else {
          const lost = await renewScript(redis, keys, step.at, c.policy.concurrency!.leaseMs, [step.lease as string], ctx);
          assert.equal(lost.length === 0, step.expect?.renewed, `${where}: renewed`);
        }
      }
    });
  }
});

/** Deterministic pseudo-random numbers, so a failing sequence can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POLICIES: [string, PolicyParams][] = [
  ['GCRA 3/s burst 1', { rate: { intervalMs: 1000 / 3, burst: 1 } }],
  ['GCRA 7/s burst 4', { rate: { intervalMs: 1000 / 7, burst: 4 } }],
  ['GCRA 5000/s burst 10', { rate: { intervalMs: 0.2, burst: 10 } }],
  ['sliding window 7 per 1 s', { window: { limit: 7, windowMs: 1000 } }],
  ['sliding window 3 per 0.25 s', { window: { limit: 3, windowMs: 250 } }],
  ['leases max 3', { concurrency: { max: 3, leaseMs: 400 } }],
  ['GCRA + leases', { rate: { intervalMs: 50, burst: 3 }, concurrency: { max: 2, leaseMs: 300 } }],
  ['window + leases', { window: { limit: 4, windowMs: 500 }, concurrency: { max: 2, leaseMs: 300 } }],
  ['GCRA + window + leases', { rate: { intervalMs: 30, burst: 5 }, window: { limit: 6, windowMs: 400 }, concurrency: { max: 3, leaseMs: 250 } }],
];

describe('the Lua scripts decide exactly as src/algorithms, step by step', { skip: redisSkip }, () => {
  for (const [index, [name, policy]] of POLICIES.entries()) {
    test(`${name}: 250 random steps (acquire, batch, release, renew, inspect)`, async () => {
      const random = rng(1000 + index);
      const keys = fresh('diff');
      const state: KeyState = {};
      const held: string[] = [];
      let now = 1000 * random();
      let seq = 0;
      for (let step = 0; step < 250; step++) {
        now += random() * (random() < 0.2 ? 300 : 40);
        const where = `${name}, step ${step} at ${now}`;
        const roll = random();
        if (roll < 0.55) {
          // A batch of 1 to 4 requests, as the coordinator sends them.
          const items = Array.from({ length: 1 + Math.floor(random() * 4) }, () => ({
            cost: 1 + Math.floor(random() * (random() < 0.1 ? 8 : 2)),
            leaseId: policy.concurrency === undefined ? null : `l${++seq}`,
          }));
          let granted = 0;
          let retryAt = NaN;
          for (const item of items) {
            const d = decide(state, now, item.cost, item.leaseId, policy);
            if (!d.granted) {
              retryAt = d.retryAt;
              break;
            }
            granted++;
            if (item.leaseId !== null) held.push(item.leaseId);
          }
          const r = await acquireScript(redis, keys, now, policy, items, ctx);
          assert.equal(r.granted, granted, `${where}: granted`);
          assert.equal(r.retryAt, retryAt, `${where}: retryAt`);
        } else if (roll < 0.7 && held.length > 0) {
          const [id] = held.splice(Math.floor(random() * held.length), 1) as [string];
          leaseRelease((state.leases ??= newLeaseTable()), id);
          await releaseScript(redis, keys, id, '', '', ctx);
        } else if (roll < 0.85 && policy.concurrency !== undefined && held.length > 0) {
          const ids = held.filter(() => random() < 0.5);
          const lost = ids.filter((id) => !leaseRenew((state.leases ??= newLeaseTable()), id, now, policy.concurrency!));
          assert.deepEqual(await renewScript(redis, keys, now, policy.concurrency.leaseMs, ids, ctx), lost, `${where}: lost leases`);
        } else {
          const view = inspect(state, now, policy);
          const r = await inspectScript(redis, keys, now, policy, ctx);
          assert.deepEqual(
            { remaining: r.remaining, retryAt: r.retryAt, resetAt: r.resetAt, inFlight: r.inFlight },
            { remaining: view.remaining, retryAt: view.retryAt, resetAt: view.resetAt, inFlight: view.inFlight },
            `${where}: inspect`,
          );
        }
      }
    });
  }
});

async function snapshot(keys: LimiterKeys): Promise<unknown[]> {
  return Promise.all([redis.get(keys.rate), redis.lrange(keys.window, 0, -1), redis.zrange(keys.leases, 0, -1, 'WITHSCORES')]);
}

describe('what the scripts write', { skip: redisSkip }, () => {
  test('a refused request writes nothing, in every combination of limits', async () => {
    for (const [name, policy] of POLICIES) {
      const keys = fresh('refused');
      const withLease = (id: string) => (policy.concurrency === undefined ? null : id);
      // Exhaust whichever part gives out first, then ask again.
      for (let i = 0; i < 20; i++) await acquireScript(redis, keys, 0, policy, [{ cost: 1, leaseId: withLease(`a${i}`) }], ctx);
      const before = await snapshot(keys);
      const r = await acquireScript(redis, keys, 0, policy, [{ cost: 1, leaseId: withLease('late') }], ctx);
      assert.equal(r.granted, 0, `${name}: refused`);
      assert.deepEqual(await snapshot(keys), before, `${name}: nothing changed`);
    }
  });

  test('a batch grants a prefix in one call: stops at the first refusal, keeps FIFO', async () => {
    const keys = fresh('batch');
    const policy: PolicyParams = { rate: { intervalMs: 100, burst: 5 } };
    const items = [3, 1, 2, 1].map((cost) => ({ cost, leaseId: null }));
    const r = await acquireScript(redis, keys, 0, policy, items, ctx);
    assert.equal(r.granted, 2, 'costs 3 and 1 fit a burst of 5; 2 does not, and the 1 behind it waits its turn');
    assert.equal(r.retryAt, 100);
  });

  test('keys expire on Redis time once they no longer matter, and a refusal does not extend them', async () => {
    const prefix = uniquePrefix('ttl');
    const keys = limiterKeys(prefix, 'k');
    const policy: PolicyParams = {
      rate: { intervalMs: 100, burst: 1 },
      window: { limit: 5, windowMs: 1500 },
      concurrency: { max: 1, leaseMs: 3000 },
    };
    const r = await acquireScript(redis, keys, undefined, policy, [{ cost: 1, leaseId: 'a' }], ctx);
    assert.equal(r.granted, 1);
    const [rate, window, leases] = await Promise.all([redis.pttl(keys.rate), redis.pttl(keys.window), redis.pttl(keys.leases)]);
    assert.ok(rate > 0 && rate <= 100, `GCRA key lives until the bucket is full again: ${rate} ms`);
    assert.ok(window > 1400 && window <= 1500, `window log lives one window after its last grant: ${window} ms`);
    assert.ok(leases > 2900 && leases <= 3000, `leases live until the last one expires: ${leases} ms`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(await redis.exists(keys.rate), 0, 'the GCRA key is gone once the bucket is full');
    const refused = await acquireScript(redis, keys, undefined, policy, [{ cost: 1, leaseId: 'b' }], ctx);
    assert.equal(refused.granted, 0, 'the lease is still held');
    assert.ok((await redis.pttl(keys.leases)) <= leases);
    await releaseScript(redis, keys, 'a', '', '', ctx);
    assert.equal(await redis.exists(keys.leases), 0, 'an empty lease set is deleted at once');
  });

  test('decisions use Redis TIME: the reply is the server clock, in ms since 2025-01-01', async () => {
    const r = await acquireScript(redis, fresh('time'), undefined, { rate: { intervalMs: 1, burst: 1 } }, [{ cost: 1, leaseId: null }], ctx);
    const [seconds, micros] = await redis.time();
    const server = (Number(seconds) - 1_735_689_600) * 1000 + Number(micros) / 1000;
    assert.ok(r.now <= server && r.now > server - 1000, `script time ${r.now} vs TIME ${server}`);
  });
});
