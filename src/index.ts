/**
 * rate-sync: one set of rate and concurrency limits for a whole fleet of background workers.
 *
 * The same import works in every context; the module-level functions use one default
 * instance per process, configured from `rate-sync.toml` (found by discovery) on first use.
 */
import { RateSync } from './rate-sync.js';
import type { LimiterOptions, LimiterOverrides, RateSyncConfig, StoreConfig, StoreOptions, LimiterConfig } from './config/types.js';
import type { Limiter } from './client/limiter.js';
import { role } from './threads/context.js';
import { relayThreadsAndForks, serveThreadsAndForks } from './threads/host.js';

export { RateSync, type RateSyncOptions } from './rate-sync.js';
export { Limiter, type AcquireOptions, type TryAcquireOptions } from './client/limiter.js';
export { Permit } from './client/permit.js';
export type { LimiterInfo, LimiterState } from './coordinator/coordinator.js';
export type { LimiterMetrics } from './coordinator/stats.js';
export type { ClientSnapshot, CoordinatorSnapshot, KeySnapshot, LimiterSnapshot, StoreSnapshot } from './coordinator/snapshot.js';
export type {
  Algorithm,
  BridgeConfig,
  Engine,
  LimiterConfig,
  LimiterOptions,
  LimiterOverrides,
  MemoryStoreConfig,
  RateSyncConfig,
  RedisStoreConfig,
  StoreConfig,
  StoreOptions,
} from './config/types.js';
export {
  ConfigError,
  CoordinatorUnavailableError,
  InvalidArgumentError,
  LimiterNotFoundError,
  ProtocolError,
  RateLimitTimeoutError,
  RateSyncError,
  StoreUnavailableError,
  type ConfigIssue,
  type ErrorCode,
} from './errors.js';

export { isRateSyncMessage } from './threads/frame.js';

let instance: RateSync | undefined;

// Loading rate-sync in a main thread makes it serve the worker threads and forks it starts: the
// primary from its coordinator, a fork by relaying to the primary. Nothing here keeps a process alive.
if (role === 'primary') serveThreadsAndForks(defaultRateSync);
else if (role === 'fork') relayThreadsAndForks();

/** The process's default instance, created on first use. */
export function defaultRateSync(): RateSync {
  instance ??= new RateSync();
  return instance;
}

/** Loads a TOML configuration file, replacing the current configuration. */
export function loadConfig(path: string): RateSyncConfig {
  return defaultRateSync().loadConfig(path);
}

/** Declares or replaces a store (`{ engine: 'memory' }`, `{ engine: 'redis', url }`). */
export function configureStore(id: string, options: StoreOptions): StoreConfig {
  return defaultRateSync().configureStore(id, options);
}

/** Declares or replaces a limiter, e.g. `{ store: 'memory', ratePerSecond: 100, burst: 10 }`. */
export function configureLimiter(id: string, options: LimiterOptions): LimiterConfig {
  return defaultRateSync().configureLimiter(id, options);
}

/** The limiter declared as `id`. */
export function getLimiter(id: string): Promise<Limiter> {
  return defaultRateSync().getLimiter(id);
}

/** The per-key limiter `baseId:uniqueId`, with the settings of `baseId` and its own state. */
export function getOrCloneLimiter(baseId: string, uniqueId: string): Promise<Limiter> {
  return defaultRateSync().getOrCloneLimiter(baseId, uniqueId);
}

/** Registers `newId` with the settings of `sourceId`, some limits overridden. */
export function cloneLimiter(sourceId: string, newId: string, overrides?: LimiterOverrides): Promise<Limiter> {
  return defaultRateSync().cloneLimiter(sourceId, newId, overrides);
}

/** Stops the default instance: waiters get CoordinatorUnavailableError, leases are released. */
export async function shutdown(): Promise<void> {
  await instance?.shutdown();
}
