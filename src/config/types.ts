/**
 * Validated configuration, as the rest of the library sees it. Option names are the camelCase
 * spelling of the TOML keys; times stay in seconds here, exactly as written in `rate-sync.toml`.
 */

export type Engine = 'memory' | 'redis';
export type Algorithm = 'token_bucket' | 'sliding_window';

export interface MemoryStoreConfig {
  readonly id: string;
  readonly engine: 'memory';
}

export interface RedisStoreConfig {
  readonly id: string;
  readonly engine: 'redis';
  /** `redis://[user:password@]host[:port][/db]` or `rediss://` for TLS. */
  readonly url: string;
  /** Prefix of every key this store writes. @default "ratesync" */
  readonly keyPrefix: string;
  /** Connect timeout in seconds. @default 2 */
  readonly connectTimeout: number;
  /** Per-command timeout in seconds: a slow Redis never holds a caller past this. @default 1 */
  readonly commandTimeout: number;
  /**
   * Fallback share of the quota while Redis is unreachable (limiters that are not `fail_closed`):
   * each host keeps `1 / expected_hosts` of the rate locally. @default 1
   */
  readonly expectedHosts: number;
  /** `url` is a seed node of a Redis Cluster (credentials and TLS apply to every node). @default false */
  readonly cluster: boolean;
  /** More seed nodes of the cluster (`redis://host:port` URLs), tried when `url` is unreachable. @default [] */
  readonly clusterNodes: readonly string[];
}

export type StoreConfig = MemoryStoreConfig | RedisStoreConfig;

export interface LimiterConfig {
  readonly id: string;
  /** Id of the store holding this limiter's state. */
  readonly store: string;
  readonly algorithm: Algorithm;
  /** token_bucket: sustained rate (> 0, may be fractional). */
  readonly ratePerSecond?: number;
  /** token_bucket: how many grants may happen at once after an idle period. @default 1 */
  readonly burst?: number;
  /** sliding_window: grants allowed in any window of `windowSeconds`. */
  readonly limit?: number;
  /** sliding_window: window length in seconds (> 0, may be fractional). */
  readonly windowSeconds?: number;
  /** Leases held at once (either algorithm). */
  readonly maxConcurrent?: number;
  /** Default wait in seconds when a call gives no timeout; absent = wait forever, 0 = one try. */
  readonly timeout?: number;
  /** Refuse (StoreUnavailableError) rather than fall back when the store is unreachable. @default false */
  readonly failClosed: boolean;
  /** A lease not renewed for this long is reclaimed (its holder is presumed dead). @default 60 */
  readonly leaseSeconds: number;
}

/** The Celery bridge (Redis lists) section, shared with the Python client. */
export interface BridgeConfig {
  readonly url: string;
  readonly namespace: string;
}

export interface RateSyncConfig {
  /** Where the configuration came from: a file path, or `programmatic configuration`. */
  readonly source: string;
  readonly stores: ReadonlyMap<string, StoreConfig>;
  readonly limiters: ReadonlyMap<string, LimiterConfig>;
  readonly bridge?: BridgeConfig;
}

/** Option bag of `configureLimiter()`: the TOML keys in camelCase; `store` is also accepted as `storeId`. */
export interface LimiterOptions {
  store?: string;
  storeId?: string;
  algorithm?: Algorithm;
  ratePerSecond?: number;
  burst?: number;
  limit?: number;
  windowSeconds?: number;
  maxConcurrent?: number;
  timeout?: number;
  failClosed?: boolean;
  leaseSeconds?: number;
}

/** Option bag of `configureStore()`. */
export type StoreOptions =
  | { engine: 'memory' }
  | {
      engine: 'redis';
      url?: string;
      keyPrefix?: string;
      connectTimeout?: number;
      commandTimeout?: number;
      expectedHosts?: number;
      cluster?: boolean;
      clusterNodes?: string[];
    };

/** The overrides `cloneLimiter()` accepts: the limit parameters, never the store or algorithm. */
export type LimiterOverrides = Pick<
  LimiterOptions,
  'ratePerSecond' | 'burst' | 'limit' | 'windowSeconds' | 'maxConcurrent' | 'timeout' | 'leaseSeconds'
>;

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0';
export const DEFAULT_LEASE_SECONDS = 60;
