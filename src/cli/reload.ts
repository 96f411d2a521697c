/**
 * `ratesync serve` on SIGHUP: reads the configuration file again and switches to it, or keeps
 * the one in force. All or nothing:
 * - a file with problems is rejected with every problem logged;
 * - the `[bridge]` table cannot change while serving (its Redis and namespace are where Python
 *   clients wait): a new one is rejected, restart to change it;
 * - when some limiter moves to the memory store, this coordinator must serve the bridge list
 *   alone: rejected if another coordinator serves it;
 * - a store that cannot be created rejects it too.
 * Applied, waiters and leases of limiters that still exist are kept (the coordinator swaps the
 * limiter table under them); waiters of removed limiters get LimiterNotFoundError.
 */
import { needsExclusiveBridge, type CeleryBridge } from '../celery-bridge/index.js';
import { loadConfigFile } from '../config/index.js';
import type { RateSyncConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { RateSync } from '../rate-sync.js';
import type { Log } from './serve.js';

export interface ReloadTarget {
  readonly rateSync: RateSync;
  readonly bridge: CeleryBridge | undefined;
  readonly path: string;
  readonly env: NodeJS.ProcessEnv;
  readonly log: Log;
}

/** Returns whether the new configuration is in force. Never throws. */
export async function reload(t: ReloadTarget): Promise<boolean> {
  const old = t.rateSync.config;
  const reject = (error: string, fields: Record<string, unknown> = {}): false => {
    t.log('reload_rejected', { config: t.path, error, ...fields, kept: 'the configuration in force is unchanged' });
    return false;
  };
  let next: RateSyncConfig;
  try {
    next = loadConfigFile(t.path, t.env);
  } catch (err) {
    if (err instanceof ConfigError) return reject(err.message, { issues: err.issues });
    return reject(err instanceof Error ? err.message : String(err));
  }
  if (JSON.stringify(old.bridge ?? null) !== JSON.stringify(next.bridge ?? null)) {
    return reject('the [bridge] table changed: the bridge keeps its Redis and namespace while serving; restart ratesync serve to change them');
  }
  const exclusive = needsExclusiveBridge(next);
  const bridge = t.bridge;
  const claim = bridge !== undefined && exclusive && !bridge.exclusive;
  if (claim) {
    try {
      await bridge.setExclusive(true);
    } catch (err) {
      return reject(err instanceof Error ? err.message : String(err));
    }
  }
  try {
    t.rateSync.applyConfig(next);
  } catch (err) {
    if (claim) await bridge.setExclusive(false).catch(() => undefined);
    return reject(`the new configuration cannot be applied: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (bridge !== undefined && !exclusive && bridge.exclusive) await bridge.setExclusive(false).catch(() => undefined);
  t.log('reload', { config: t.path, ...changes(old, next), ...(bridge === undefined ? {} : { bridgeExclusive: bridge.exclusive }) });
  return true;
}

function changes(old: RateSyncConfig, next: RateSyncConfig): Record<string, string[]> {
  const diff = <T>(a: ReadonlyMap<string, T>, b: ReadonlyMap<string, T>) => ({
    added: [...b.keys()].filter((k) => !a.has(k)),
    removed: [...a.keys()].filter((k) => !b.has(k)),
    changed: [...b.keys()].filter((k) => a.has(k) && JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k))),
  });
  const limiters = diff(old.limiters, next.limiters);
  const stores = diff(old.stores, next.stores);
  return {
    limitersAdded: limiters.added,
    limitersRemoved: limiters.removed,
    limitersChanged: limiters.changed,
    storesAdded: stores.added,
    storesRemoved: stores.removed,
    storesChanged: stores.changed,
  };
}
