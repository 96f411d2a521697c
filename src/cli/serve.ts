/**
 * `ratesync serve`: a long-running coordinator for a host, from the configuration, with the
 * Celery bridge on when the file has a `[bridge]` table. Logs one JSON object per line.
 * `stop()` (SIGTERM, SIGINT) stops reading requests, refuses every waiter with a clear
 * CoordinatorUnavailableError, releases the leases and closes the connections.
 */
import { startCeleryBridge, type CeleryBridge } from '../celery-bridge/index.js';
import { RateSync } from '../rate-sync.js';

export interface ServeOptions {
  /** Configuration file; default: discovery (RATE_SYNC_CONFIG, ./rate-sync.toml, ./config/rate-sync.toml). */
  config?: string;
  /** Receives each log line. */
  out: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface Server {
  readonly rateSync: RateSync;
  readonly bridge: CeleryBridge | undefined;
  stop(reason: string): Promise<void>;
}

export type Log = (event: string, fields?: Record<string, unknown>) => void;

export function jsonLog(out: (line: string) => void): Log {
  return (event, fields = {}) => out(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
}

/** Starts serving; throws (ConfigError, RateSyncError) when the configuration or Redis is not usable. */
export async function serve(options: ServeOptions): Promise<Server> {
  const log = jsonLog(options.out);
  const rs = new RateSync({
    ...(options.config === undefined ? {} : { configFile: options.config }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    log,
  });
  const config = rs.config;
  if (config.source === 'programmatic configuration') {
    throw new Error('ratesync serve found no configuration file (RATE_SYNC_CONFIG, ./rate-sync.toml, ./config/rate-sync.toml); pass --config');
  }
  const bridge = config.bridge === undefined ? undefined : await startCeleryBridge(rs, { log });
  log('ready', {
    pid: process.pid,
    config: config.source,
    limiters: [...config.limiters.keys()],
    bridge: bridge === undefined ? null : { list: bridge.keys.requests, id: bridge.id },
  });
  if (bridge === undefined) log('bridge_off', { reason: `no [bridge] table in ${config.source}` });
  let stopping: Promise<void> | undefined;
  return {
    rateSync: rs,
    bridge,
    stop(reason) {
      stopping ??= (async () => {
        log('stopping', { reason });
        await bridge?.stop();
        await rs.coordinator.shutdown(reason);
        await bridge?.close();
        log('stopped', bridge === undefined ? {} : { bridge: bridge.stats() });
      })();
      return stopping;
    },
  };
}
