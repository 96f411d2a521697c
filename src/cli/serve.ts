/**
 * `ratesync serve`: a long-running coordinator for a host, from the configuration, with the
 * Celery bridge on when the file has a `[bridge]` table, and the metrics port (Prometheus
 * `/metrics`, the status page, `/status.json` for `ratesync status`). Logs one JSON object per line.
 * `reload()` (SIGHUP) switches to the file's new contents or keeps the old ones (reload.ts).
 * `stop()` (SIGTERM, SIGINT) stops reading requests, refuses every waiter with a clear
 * CoordinatorUnavailableError, releases the leases and closes the connections.
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { startCeleryBridge, type CeleryBridge } from '../celery-bridge/index.js';
import { createMetrics } from '../metrics/index.js';
import { RateSync } from '../rate-sync.js';
import { countsOf, History } from '../status/history.js';
import { isLoopback, startStatusServer, type StatusServer } from '../status/http.js';
import { reload } from './reload.js';

/** Where `ratesync serve` listens for metrics and status, and where `ratesync status` looks. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';
export const DEFAULT_METRICS_PORT = 9477;

export interface ServeOptions {
  /** Configuration file; default: discovery (RATE_SYNC_CONFIG, ./rate-sync.toml, ./config/rate-sync.toml). */
  config?: string;
  /** Receives each log line. */
  out: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The metrics port (port 0: any free one); false: none. @default { host: '127.0.0.1', port: 9477 } */
  http?: { host?: string; port?: number } | false;
}

export interface Server {
  readonly rateSync: RateSync;
  readonly bridge: CeleryBridge | undefined;
  /** Prometheus metrics of this coordinator (and its bridge), also served at `${url}/metrics`. */
  readonly registry: Registry;
  /** `http://host:port` of the metrics port; undefined when it is off. */
  readonly url: string | undefined;
  /** Reads the configuration file again; resolves to whether the new one is in force. */
  reload(): Promise<boolean>;
  stop(reason: string): Promise<void>;
}

export type Log = (event: string, fields?: Record<string, unknown>) => void;

export function jsonLog(out: (line: string) => void): Log {
  return (event, fields = {}) => out(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
}

/** Starts serving; throws (ConfigError, RateSyncError) when the configuration, Redis or the metrics port is not usable. */
export async function serve(options: ServeOptions): Promise<Server> {
  const log = jsonLog(options.out);
  const startedAt = Date.now();
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
  let bridge: CeleryBridge | undefined;
  const registry = createMetrics(rs, { bridge: () => bridge });
  collectDefaultMetrics({ register: registry });
  const history = new History(() => countsOf(rs.coordinator.snapshot()));
  let http: StatusServer | undefined;
  if (options.http !== false) {
    const host = options.http?.host ?? DEFAULT_METRICS_HOST;
    http = await startStatusServer({
      host,
      port: options.http?.port ?? DEFAULT_METRICS_PORT,
      registry,
      log,
      source: () => ({ coordinator: rs.coordinator, history, bridge, config: config.source, startedAt }),
    });
    if (!isLoopback(host)) {
      log('metrics_public', { url: http.url, warning: 'the status page, /status.json and /metrics have no authentication: keep this port off untrusted networks' });
    }
  }
  try {
    bridge = config.bridge === undefined ? undefined : await startCeleryBridge(rs, { log });
  } catch (err) {
    await http?.close();
    throw err;
  }
  history.start();
  log('ready', {
    pid: process.pid,
    config: config.source,
    limiters: [...config.limiters.keys()],
    bridge: bridge === undefined ? null : { list: bridge.keys.requests, id: bridge.id },
    metrics: http === undefined ? null : { status: http.url, metrics: `${http.url}/metrics` },
  });
  if (bridge === undefined) log('bridge_off', { reason: `no [bridge] table in ${config.source}` });
  let stopping: Promise<void> | undefined;
  // One reload at a time: a second SIGHUP waits for the first.
  let reloading: Promise<boolean> = Promise.resolve(true);
  return {
    rateSync: rs,
    bridge,
    registry,
    url: http?.url,
    reload() {
      reloading = reloading.then(() =>
        stopping !== undefined ? false : reload({ rateSync: rs, bridge, path: config.source, env: options.env ?? process.env, log }),
      );
      return reloading;
    },
    stop(reason) {
      stopping ??= (async () => {
        log('stopping', { reason });
        history.stop();
        await bridge?.stop();
        await rs.coordinator.shutdown(reason);
        await bridge?.close();
        await http?.close();
        log('stopped', bridge === undefined ? {} : { bridge: bridge.stats() });
      })();
      return stopping;
    },
  };
}
