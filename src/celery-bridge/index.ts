/** The Celery bridge: Python clients share the coordinator's quotas through Redis lists. */
import type { RateSyncConfig } from '../config/types.js';
import { RateSyncError } from '../errors.js';
import type { RateSync } from '../rate-sync.js';
import { CeleryBridge, type CeleryBridgeOptions } from './bridge.js';

export { CeleryBridge, type BridgeStats, type CeleryBridgeOptions } from './bridge.js';
export { bridgeKeys, type BridgeKeys } from './keys.js';

/** True when some limiter keeps its state in the coordinator's own memory (so it cannot share a bridge list). */
export function needsExclusiveBridge(config: RateSyncConfig): boolean {
  return [...config.limiters.values()].some((l) => config.stores.get(l.store)?.engine !== 'redis');
}

/**
 * Serves the `[bridge]` of an instance's configuration with its coordinator (what `ratesync serve`
 * does). Stop it with `bridge.stop()`, then `rs.shutdown()`, then `bridge.close()`, so waiting
 * Python clients are told the coordinator is gone.
 */
export function startCeleryBridge(rs: RateSync, options: Partial<CeleryBridgeOptions> = {}): Promise<CeleryBridge> {
  const config = rs.config;
  if (config.bridge === undefined && (options.url === undefined || options.namespace === undefined)) {
    return Promise.reject(new RateSyncError(`No [bridge] table in ${config.source}: the Celery bridge needs a url and a namespace`));
  }
  return CeleryBridge.start(rs.coordinator, {
    url: options.url ?? (config.bridge?.url as string),
    namespace: options.namespace ?? (config.bridge?.namespace as string),
    exclusive: needsExclusiveBridge(config),
    ...options,
  });
}
export type { PresenceRecord } from './presence.js';
