/** Builds the store an engine name stands for. */
import type { Clock } from '../clock.js';
import type { StoreConfig } from '../config/types.js';
import { StoreUnavailableError } from '../errors.js';
import { MemoryStore } from './memory/memory-store.js';
import type { Store } from './store.js';

export type { AcquireItem, AcquireResult, KeyStateView, LimiterSpec, MaybePromise, Store } from './store.js';
export { MemoryStore } from './memory/memory-store.js';

export type StoreFactory = (config: StoreConfig, clock: Clock) => Store;

export const createStore: StoreFactory = (config, clock) => {
  switch (config.engine) {
    case 'memory':
      return new MemoryStore(config.id, { clock });
    case 'redis':
      throw new StoreUnavailableError(config.id, 'the redis engine is not available in this build');
  }
};
