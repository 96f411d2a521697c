import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { leaseRelease, leaseRenew, newLeaseTable } from '../../src/algorithms/leases.js';
import { EPSILON_MS } from '../../src/algorithms/gcra.js';
import { decide, idleAt, inspect, maxCost, type KeyState, type PolicyParams } from '../../src/algorithms/policy.js';

interface Step {
  at: number;
  op: 'acquire' | 'release' | 'renew';
  cost?: number;
  lease?: string;
  expect?: { granted?: boolean; retryAt?: number | null; renewed?: boolean };
}
interface VectorCase {
  name: string;
  policy: PolicyParams;
  steps: Step[];
}

const vectors = JSON.parse(readFileSync(new URL('../vectors/policy.json', import.meta.url), 'utf8')) as {
  cases: VectorCase[];
};

for (const c of vectors.cases) {
  test(`vector: ${c.name}`, () => {
    const state: KeyState = {};
    c.steps.forEach((step, i) => {
      const where = `step ${i} (${step.op} at ${step.at})`;
      if (step.op === 'acquire') {
        const d = decide(state, step.at, step.cost ?? 1, step.lease ?? null, c.policy);
        assert.equal(d.granted, step.expect?.granted, `${where}: granted`);
        if (!d.granted) assert.equal(d.retryAt, step.expect?.retryAt ?? Infinity, `${where}: retryAt`);
      } else if (step.op === 'release') {
        leaseRelease((state.leases ??= newLeaseTable()), step.lease as string);
      } else {
        const ok = leaseRenew((state.leases ??= newLeaseTable()), step.lease as string, step.at, c.policy.concurrency!);
        assert.equal(ok, step.expect?.renewed, `${where}: renewed`);
      }
    });
  });
}

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

/** Largest excess over `burst + rate·(t_j − t_i)` units granted in [t_i, t_j], over all pairs. */
function worstExcess(grants: { at: number; cost: number }[], burst: number, ratePerMs: number): number {
  let worst = -Infinity;
  for (let i = 0; i < grants.length; i++) {
    let units = 0;
    for (let j = i; j < grants.length; j++) {
      units += grants[j]!.cost;
      const allowed = burst + ratePerMs * (grants[j]!.at - grants[i]!.at);
      worst = Math.max(worst, units - allowed);
    }
  }
  return worst;
}

for (const [rate, burst] of [
  [0.01, 1],
  [3, 1],
  [7, 4],
  [100, 1],
  [1000, 1],
  [1000, 50],
  [5000, 10],
] as const) {
  test(`token bucket ${rate}/s burst ${burst}: never more than burst + rate·T in any interval, random load`, () => {
    const p: PolicyParams = { rate: { intervalMs: 1000 / rate, burst } };
    const random = rng(rate * 1000 + burst);
    const state: KeyState = {};
    const grants: { at: number; cost: number }[] = [];
    let now = 0;
    const horizon = (400 / rate) * 1000;
    while (now < horizon && grants.length < 1500) {
      now += random() * (2000 / rate);
      const cost = 1 + Math.floor(random() * Math.min(burst, 3));
      if (decide(state, now, cost, null, p).granted) grants.push({ at: now, cost });
    }
    assert.ok(grants.length > 50, `too few grants to say anything (${grants.length})`);
    // A grant may come EPSILON_MS early (float slack): worth rate·EPSILON units at most.
    assert.ok(worstExcess(grants, burst, rate / 1000) <= (rate / 1000) * EPSILON_MS, 'over-admission');
  });

  test(`token bucket ${rate}/s burst ${burst}: a saturated caller gets exactly burst + rate·T`, () => {
    const p: PolicyParams = { rate: { intervalMs: 1000 / rate, burst } };
    const state: KeyState = {};
    let granted = 0;
    let now = 0;
    const T = (200 / rate) * 1000;
    // Ask again exactly at the instant the algorithm names: no unit is ever lost. (The float
    // sum of many intervals may land a few ulps past T, hence the EPSILON-sized slack.)
    while (now <= T + EPSILON_MS) {
      const d = decide(state, now, 1, null, p);
      if (d.granted) granted++;
      else now = d.retryAt;
    }
    assert.equal(granted, burst + Math.floor((rate * T) / 1000 + 1e-9));
  });
}

test('sliding window: never more than limit in any half-open window, random load', () => {
  const p: PolicyParams = { window: { limit: 7, windowMs: 1000 } };
  const random = rng(42);
  const state: KeyState = {};
  const grants: { at: number; cost: number }[] = [];
  let now = 0;
  while (grants.length < 2000) {
    now += random() * 60;
    const cost = 1 + Math.floor(random() * 3);
    if (decide(state, now, cost, null, p).granted) grants.push({ at: now, cost });
  }
  for (let i = 0; i < grants.length; i++) {
    let units = 0;
    for (let j = i; j < grants.length && grants[j]!.at < grants[i]!.at + 1000; j++) units += grants[j]!.cost;
    assert.ok(units <= 7, `window starting at ${grants[i]!.at} holds ${units} units`);
  }
});

test('sliding window: a saturated caller fills every window exactly', () => {
  const p: PolicyParams = { window: { limit: 5, windowMs: 1000 } };
  const state: KeyState = {};
  const times: number[] = [];
  let now = 0;
  while (now < 10_000) {
    const d = decide(state, now, 1, null, p);
    if (d.granted) times.push(now);
    else now = d.retryAt;
  }
  // 5 at t=0, then 5 more at each multiple of the window.
  assert.equal(times.length, 50);
  assert.deepEqual(times.slice(0, 6), [0, 0, 0, 0, 0, 1000]);
});

test('refused requests consume nothing, in every combination', () => {
  const policies: PolicyParams[] = [
    { rate: { intervalMs: 100, burst: 2 }, concurrency: { max: 1, leaseMs: 1000 } },
    { window: { limit: 2, windowMs: 1000 }, concurrency: { max: 1, leaseMs: 1000 } },
    { rate: { intervalMs: 100, burst: 2 }, window: { limit: 1, windowMs: 1000 } },
  ];
  for (const p of policies) {
    const state: KeyState = {};
    assert.equal(decide(state, 0, 1, 'a', p).granted, true);
    const before = JSON.stringify(state, (_k, v: unknown) => (v instanceof Map ? [...v] : v));
    for (let i = 0; i < 5; i++) assert.equal(decide(state, 1, 1, `x${i}`, p).granted, false);
    const after = JSON.stringify(state, (_k, v: unknown) => (v instanceof Map ? [...v] : v));
    assert.equal(after, before);
  }
});

test('maxCost is the smallest capacity of the parts', () => {
  assert.equal(maxCost({ rate: { intervalMs: 1, burst: 5 }, concurrency: { max: 3, leaseMs: 1 } }), 3);
  assert.equal(maxCost({ window: { limit: 10, windowMs: 1 } }), 10);
  assert.equal(maxCost({}), Infinity);
});

test('inspect reports remaining, retryAt, resetAt and in-flight without consuming', () => {
  const p: PolicyParams = { rate: { intervalMs: 100, burst: 3 }, concurrency: { max: 5, leaseMs: 1000 } };
  const state: KeyState = {};
  assert.deepEqual(inspect(state, 0, p), { remaining: 3, retryAt: 0, resetAt: 0, inFlight: 0 });
  decide(state, 0, 2, 'a', p);
  decide(state, 0, 1, 'b', p);
  for (let i = 0; i < 3; i++) assert.deepEqual(inspect(state, 0, p), { remaining: 0, retryAt: 100, resetAt: 300, inFlight: 3 });
  assert.deepEqual(inspect(state, 150, p), { remaining: 1, retryAt: 150, resetAt: 300, inFlight: 3 });
});

test('inspect on a sliding window counts the live log', () => {
  const p: PolicyParams = { window: { limit: 3, windowMs: 1000 } };
  const state: KeyState = {};
  decide(state, 0, 1, null, p);
  decide(state, 500, 1, null, p);
  decide(state, 600, 1, null, p);
  assert.deepEqual(inspect(state, 700, p), { remaining: 0, retryAt: 1000, resetAt: 1600, inFlight: 0 });
  assert.deepEqual(inspect(state, 1000, p), { remaining: 1, retryAt: 1000, resetAt: 1600, inFlight: 0 });
});

test('idleAt: a key is forgettable once its state equals a fresh one', () => {
  const p: PolicyParams = { rate: { intervalMs: 100, burst: 1 }, window: { limit: 2, windowMs: 1000 } };
  const state: KeyState = {};
  assert.equal(idleAt(state, p), -Infinity);
  decide(state, 0, 1, null, p);
  assert.equal(idleAt(state, p), 1000);
  const leased: PolicyParams = { concurrency: { max: 1, leaseMs: 5000 } };
  const held: KeyState = {};
  decide(held, 0, 1, 'a', leased);
  assert.equal(idleAt(held, leased), 5000);
  leaseRelease(held.leases!, 'a');
  assert.equal(idleAt(held, leased), -Infinity);
});
