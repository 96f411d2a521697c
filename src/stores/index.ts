/** Builds the store an engine name stands for. */
import type { Clock } from '../clock.js';
import type { StoreConfig } from '../config/types.js';
import { MemoryStore } from './memory/memory-store.js';
import { RedisStore } from './redis/redis-store.js';
import type { Store, StoreHooks } from './store.js';

export type { AcquireItem, AcquireResult, KeyStateView, LimiterSpec, MaybePromise, Store, StoreHooks } from './store.js';
export { MemoryStore } from './memory/memory-store.js';
export { RedisStore } from './redis/redis-store.js';

export type StoreFactory = (config: StoreConfig, clock: Clock, hooks?: StoreHooks) => Store;

export const createStore: StoreFactory = (config, clock, hooks) => {
  switch (config.engine) {
    case 'memory':
      return new MemoryStore(config.id, { clock });
    case 'redis':
      return new RedisStore(config, { clock, ...(hooks === undefined ? {} : { hooks }) });
  }
};
