/** The limiter behaviour suite on the memory store, plus what only the memory store has. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateSync } from '../../src/index.js';
import { MemoryStore } from '../../src/stores/index.js';
import { FakeClock } from '../../src/testing.js';
import { limiterBehaviour } from '../suites/limiter-behaviour.js';

limiterBehaviour({ name: 'memory', skip: false, store: () => undefined, longQueue: 10_000 });

test('with no configuration at all, the error says where the configuration was looked for', async () => {
  const rs = new RateSync({ cwd: '/nonexistent-dir', env: {} });
  await assert.rejects(rs.getLimiter('github_api'), /No configuration file was found \(searched: .*rate-sync\.toml/);
});

test('idle keys are forgotten by the memory store sweep, and no timer stays armed', async () => {
  const clock = new FakeClock();
  const stores: MemoryStore[] = [];
  const rs = new RateSync({
    clock,
    configFile: false,
    storeFactory: (config, c) => {
      const store = new MemoryStore(config.id, { clock: c, sweepIntervalMs: 1000 });
      stores.push(store);
      return store;
    },
  });
  rs.configureLimiter('api', { store: 'memory', ratePerSecond: 100, burst: 1 });
  rs.configureLimiter('w', { store: 'memory', algorithm: 'sliding_window', limit: 5, windowSeconds: 10 });
  for (let i = 0; i < 1000; i++) await (await rs.getOrCloneLimiter('api', `k${i}`)).acquire();
  await (await rs.getLimiter('w')).acquire();
  const store = stores.at(-1) as MemoryStore;
  assert.equal(store.size, 1001);
  await clock.advance(1000);
  assert.equal(store.size, 1, 'rate keys refilled after 10 ms are dropped; the window key still counts');
  await clock.advance(10_000);
  assert.equal(store.size, 0);
  assert.equal(clock.pendingTimers(true), 0, 'no timer left armed once everything is idle');
});
