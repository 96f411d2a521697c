/**
 * One ioredis client per store (plus one subscriber connection), built from the store's
 * configuration. Options are chosen so that Redis trouble never holds a call: no offline queue
 * (a command sent while disconnected fails at once), no resending after a reconnect (a
 * decision applied twice would over-admit), a per-command timeout, and reconnection with a
 * short capped backoff so decisions go back to Redis soon after it returns.
 */
import { isIP } from 'node:net';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisStoreConfig } from '../../config/types.js';
import type { RedisClient } from './scripts.js';

/** Reconnection backoff: 50 ms doubling to this cap, plus up to 100 ms of jitter. */
export const RECONNECT_MAX_MS = 1000;

export function reconnectDelay(attempt: number): number {
  return Math.min(RECONNECT_MAX_MS, 50 * 2 ** Math.min(Math.max(attempt - 1, 0), 10)) + Math.floor(Math.random() * 100);
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface RedisTarget extends Endpoint {
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly db: number;
  readonly tls: boolean;
}

/** `redis[s]://[user[:password]@]host[:port][/db]` (the config schema has checked the shape). */
export function parseRedisUrl(url: string): RedisTarget {
  const u = new URL(url);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const path = u.pathname.replace(/^\//, '');
  return {
    host,
    port: u.port === '' ? 6379 : Number(u.port),
    username: u.username === '' ? undefined : decodeURIComponent(u.username),
    password: u.password === '' ? undefined : decodeURIComponent(u.password),
    db: path === '' ? 0 : Number(path),
    tls: u.protocol === 'rediss:',
  };
}

/** The url without its password, for logs and errors. */
export function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password !== '') u.password = '***';
  return u.toString();
}

function connectionOptions(config: RedisStoreConfig, target: RedisTarget): RedisOptions {
  return {
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
    // SNI takes a host name, never an address.
    ...(target.tls ? { tls: isIP(target.host) === 0 ? { servername: target.host } : {} } : {}),
    connectTimeout: config.connectTimeout * 1000,
    commandTimeout: config.commandTimeout * 1000,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectionName: 'rate-sync',
  };
}

export function createClient(config: RedisStoreConfig): RedisClient {
  const target = parseRedisUrl(config.url);
  const options = connectionOptions(config, target);
  if (!config.cluster) {
    return new Redis({
      ...options,
      host: target.host,
      port: target.port,
      db: target.db,
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: reconnectDelay,
    });
  }
  const seeds: Endpoint[] = [target, ...config.clusterNodes.map(parseRedisUrl)].map(({ host, port }) => ({ host, port }));
  const clusterOptions: ClusterOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: reconnectDelay,
    slotsRefreshTimeout: config.connectTimeout * 1000,
    redisOptions: options,
  };
  return new Cluster(seeds, clusterOptions);
}
