/**
 * Prometheus metrics (rate-sync/metrics) from real acquisitions on the memory store, in virtual
 * time; the wait histogram's buckets; bounded labels however many clones; docs in step.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { WAIT_BUCKETS_MS, LimiterStats, waitQuantileMs } from '../../src/coordinator/stats.js';
import { RateSync, RateLimitTimeoutError } from '../../src/index.js';
import { createMetrics } from '../../src/metrics/index.js';
import { FakeClock } from '../../src/testing.js';

type Json = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

function value(json: Json, name: string, labels: Record<string, string> = {}, metricName = name): number | undefined {
  const metric = json.find((m) => m.name === name);
  const v = metric?.values.find(
    (x) => ((x as { metricName?: string }).metricName ?? name) === metricName && Object.entries(labels).every(([k, l]) => String(x.labels[k]) === l),
  );
  return v?.value;
}

function setup(): { rs: RateSync; clock: FakeClock } {
  const clock = new FakeClock();
  const rs = new RateSync({ clock, configFile: false });
  rs.configureLimiter('api', { store: 'memory', ratePerSecond: 10, burst: 2 });
  rs.configureLimiter('slots', { store: 'memory', maxConcurrent: 2 });
  return { rs, clock };
}

test('the wait histogram puts each wait in the first bucket whose bound it does not exceed', () => {
  const stats = new LimiterStats();
  for (const ms of [0, 0, 0.5, 1, 1.5, 100, 100.1, 1e9]) stats.granted(ms);
  const at = (bound: number): number => stats.waitCounts[WAIT_BUCKETS_MS.indexOf(bound)] ?? -1;
  assert.equal(at(0), 2);
  assert.equal(at(1), 2, '0.5 and 1 ms');
  assert.equal(at(5), 1);
  assert.equal(at(100), 1);
  assert.equal(at(250), 1);
  assert.equal(stats.waitCounts[WAIT_BUCKETS_MS.length], 1, 'above the last bound');
  assert.equal(stats.acquisitions, 8);
  assert.equal(stats.maxWaitMs, 1e9);
});

test('waitQuantileMs interpolates within the bucket, like histogram_quantile', () => {
  const counts = new Array<number>(WAIT_BUCKETS_MS.length + 1).fill(0);
  assert.ok(Number.isNaN(waitQuantileMs(counts, 0.99)));
  counts[0] = 99; // 99 grants without waiting
  counts[WAIT_BUCKETS_MS.indexOf(1000)] = 1; // one in (500, 1000]
  assert.equal(waitQuantileMs(counts, 0.99), 0);
  assert.equal(waitQuantileMs(counts, 0.995), 750);
  assert.equal(waitQuantileMs(counts, 1), 1000);
});

test('metrics move with real acquisitions: grants, refusals, timeouts, cancellations, waits, in flight, waiting', async () => {
  const { rs, clock } = setup();
  const registry = createMetrics(rs);
  const api = await rs.getLimiter('api');
  const slots = await rs.getLimiter('slots');
  let json = await registry.getMetricsAsJSON();
  assert.equal(value(json, 'ratesync_grants_total', { limiter: 'api' }), 0);
  assert.equal(value(json, 'ratesync_quota_per_second', { limiter: 'api' }), 10);
  assert.equal(value(json, 'ratesync_max_concurrent', { limiter: 'slots' }), 2);

  await api.acquire();
  await api.acquire(); // the burst: no wait
  const third = api.acquire(); // waits 100 ms
  await clock.advance(100);
  await third;
  assert.equal(await api.tryAcquire({ timeoutMs: 0 }), null); // refused
  const late = api.acquire({ timeoutMs: 20 }).catch((err: unknown) => err);
  await clock.advance(20);
  assert.ok((await late) instanceof RateLimitTimeoutError);
  const aborted = new AbortController();
  const cancelled = api.acquire({ signal: aborted.signal }).catch((err: unknown) => err);
  const held = [await slots.acquire(), await slots.acquire()];
  const queued = slots.acquire();
  aborted.abort();
  await cancelled;

  json = await registry.getMetricsAsJSON();
  assert.equal(value(json, 'ratesync_grants_total', { limiter: 'api' }), 3);
  assert.equal(value(json, 'ratesync_refusals_total', { limiter: 'api' }), 1);
  assert.equal(value(json, 'ratesync_timeouts_total', { limiter: 'api' }), 1);
  assert.equal(value(json, 'ratesync_cancellations_total', { limiter: 'api' }), 1);
  assert.equal(value(json, 'ratesync_in_flight', { limiter: 'slots' }), 2);
  assert.equal(value(json, 'ratesync_waiting', { limiter: 'slots' }), 1);
  assert.equal(value(json, 'ratesync_fallback_active', { limiter: 'api' }), 0);
  assert.equal(value(json, 'ratesync_clients', { kind: 'local' }), 1);
  const bucket = (le: string): number | undefined => value(json, 'ratesync_wait_seconds', { limiter: 'api', le }, 'ratesync_wait_seconds_bucket');
  assert.equal(bucket('0'), 2, 'two grants did not wait');
  assert.equal(bucket('0.05'), 2);
  assert.equal(bucket('0.1'), 3, 'the third waited 100 ms');
  assert.equal(bucket('+Inf'), 3);
  assert.equal(value(json, 'ratesync_wait_seconds', { limiter: 'api' }, 'ratesync_wait_seconds_sum'), 0.1);
  assert.equal(value(json, 'ratesync_wait_seconds', { limiter: 'api' }, 'ratesync_wait_seconds_count'), 3);

  for (const p of held) p.release();
  (await queued).release();
  json = await registry.getMetricsAsJSON();
  assert.equal(value(json, 'ratesync_in_flight', { limiter: 'slots' }), 0);
  assert.equal(value(json, 'ratesync_waiting', { limiter: 'slots' }), 0);
  assert.equal(value(json, 'ratesync_grants_total', { limiter: 'slots' }), 3);
  const text = await registry.metrics();
  assert.match(text, /^# TYPE ratesync_wait_seconds histogram$/m);
  assert.match(text, /^ratesync_wait_seconds_bucket\{limiter="api",le="0\.1"\} 3$/m);
  await rs.shutdown();
});

test('labels stay bounded: 2,000 keyed clones and 50 cloneLimiter clones count with their limiter', async () => {
  const { rs } = setup();
  const registry = createMetrics(rs);
  for (let i = 0; i < 2000; i++) await (await rs.getOrCloneLimiter('api', `user-${i}`)).tryAcquire({ timeoutMs: 0 });
  for (let i = 0; i < 50; i++) await (await rs.cloneLimiter('slots', `tenant-${i}`, { maxConcurrent: 5 })).acquire();
  const json = await registry.getMetricsAsJSON();
  for (const metric of json) {
    const limiters = new Set(metric.values.map((v) => v.labels['limiter']).filter((l) => l !== undefined));
    assert.ok(limiters.size <= 2, `${metric.name} has ${limiters.size} limiter labels`);
  }
  assert.equal(value(json, 'ratesync_grants_total', { limiter: 'api' }), 2000);
  assert.equal(value(json, 'ratesync_grants_total', { limiter: 'slots' }), 50, 'the clones add up into their source');
  assert.equal(value(json, 'ratesync_in_flight', { limiter: 'slots' }), 50);
  assert.equal(value(json, 'ratesync_max_concurrent', { limiter: 'slots' }), 2, 'the source’s own quota');

  const own = await createMetrics(rs, { clones: 'own' }).getMetricsAsJSON();
  assert.equal(value(own, 'ratesync_grants_total', { limiter: 'tenant-7' }), 1, 'asked for, each clone is a series');
  assert.equal(value(own, 'ratesync_max_concurrent', { limiter: 'tenant-7' }), 5);
  assert.equal(value(own, 'ratesync_grants_total', { limiter: 'slots' }), 0);
  await rs.shutdown();
});

test('createMetrics fills a given registry, next to what is already there', async () => {
  const { rs } = setup();
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'billing' });
  assert.equal(createMetrics(rs, { registry }), registry);
  await (await rs.getLimiter('api')).acquire();
  assert.match(await registry.metrics(), /^ratesync_grants_total\{limiter="api",service="billing"\} 1$/m);
  await rs.shutdown();
});

test('docs/observability.md documents exactly the metrics the registry has', async () => {
  const { rs } = setup();
  const registered = (await createMetrics(rs, { bridge: () => undefined }).getMetricsAsJSON()).map((m) => m.name).sort();
  const docs = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8');
  // Metrics are documented as table rows that start with the name in backticks.
  const documented = [...docs.matchAll(/^\| `(ratesync_[a-z_]+)`/gm)].map((m) => m[1] as string).sort();
  assert.deepEqual(documented, registered);
  await rs.shutdown();
});
