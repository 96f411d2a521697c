/**
 * One rate-sync instance: a configuration, the coordinator that enforces it and the limiters
 * handed out. The module-level functions of `index.ts` use a default instance; tests and
 * embedders create their own (e.g. with a fake clock).
 *
 * In the primary's main thread the limiters call the coordinator directly (LocalLink); in a
 * worker thread or a fork the same limiters talk to the primary's coordinator (RemoteLink).
 */
import type { Clock } from './clock.js';
import {
  discoverConfigFile,
  configSearchPaths,
  loadConfigFile,
  validateLimiterOptions,
  validateStoreOptions,
} from './config/index.js';
import type {
  LimiterConfig,
  LimiterOptions,
  LimiterOverrides,
  RateSyncConfig,
  StoreConfig,
  StoreOptions,
} from './config/types.js';
import { Coordinator, type CoordinatorOptions, type LimiterInfo } from './coordinator/coordinator.js';
import { MAX_KEY_LENGTH } from './coordinator/protocol.js';
import { CoordinatorUnavailableError, InvalidArgumentError, LimiterNotFoundError } from './errors.js';
import { Limiter } from './client/limiter.js';
import { LocalLink, type CoordinatorLink } from './client/link.js';
import type { StoreFactory } from './stores/index.js';
import { clientConnector, connectTimeoutMs, role } from './threads/context.js';
import { RemoteLink } from './threads/remote-link.js';

export interface RateSyncOptions {
  /** Time source (a FakeClock from `rate-sync/testing` in tests). */
  clock?: Clock;
  /** Builds stores from their configuration (the built-in engines by default). */
  storeFactory?: StoreFactory;
  /**
   * Configuration file read at first use. Default: discovery (`RATE_SYNC_CONFIG`,
   * `./rate-sync.toml`, `./config/rate-sync.toml`); `false`: none, configure programmatically.
   */
  configFile?: string | false;
  /** Environment for `${VAR}` expansion and discovery. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Directory discovery starts from. @default process.cwd() */
  cwd?: string;
  log?: CoordinatorOptions['log'];
  /**
   * In a worker thread or a fork: how long to wait for the primary's coordinator to answer.
   * @default RATE_SYNC_CONNECT_TIMEOUT_MS, else 10000
   */
  connectTimeoutMs?: number;
}

const EMPTY: RateSyncConfig = { source: 'programmatic configuration', stores: new Map(), limiters: new Map() };

export class RateSync {
  readonly #options: RateSyncOptions;
  #config: RateSyncConfig | undefined;
  #coordinator: Coordinator | undefined;
  #link: CoordinatorLink | undefined;
  #configured!: () => void;
  readonly #whenConfigured = new Promise<void>((resolve) => (this.#configured = resolve));
  readonly #limiters = new Map<string, WeakRef<Limiter>>();
  readonly #pending = new Map<string, Promise<Limiter>>();
  /** Idle clones are forgotten with their Limiter object, so a million keys cost nothing once dropped. */
  readonly #forget = new FinalizationRegistry<string>((id) => {
    if (this.#limiters.get(id)?.deref() === undefined) this.#limiters.delete(id);
  });

  constructor(options: RateSyncOptions = {}) {
    this.#options = options;
  }

  /** The configuration in force (loading the discovered file if nothing was loaded yet). */
  get config(): RateSyncConfig {
    return this.#ensureConfig();
  }

  /** Loads a TOML file, replacing the whole configuration. Throws ConfigError listing every problem. */
  loadConfig(path: string): RateSyncConfig {
    const config = loadConfigFile(path, this.#env());
    this.#apply(config);
    return config;
  }

  /**
   * Replaces the whole configuration with one already validated (by `loadConfigFile`), as
   * `ratesync serve` does on SIGHUP: waiters and leases of limiters that remain are kept.
   * Throws, changing nothing, when a store of the new configuration cannot be created.
   */
  applyConfig(config: RateSyncConfig): void {
    this.#apply(config);
  }

  /** Declares or replaces a store; option names are the TOML keys in camelCase. */
  configureStore(id: string, options: StoreOptions): StoreConfig {
    const current = this.#ensureConfig();
    const store = validateStoreOptions(id, options, this.#env());
    this.#apply({ ...current, stores: new Map(current.stores).set(id, store) });
    return store;
  }

  /** Declares or replaces a limiter; option names are the TOML keys in camelCase. */
  configureLimiter(id: string, options: LimiterOptions): LimiterConfig {
    const current = this.#ensureConfig();
    const { limiter, implicitStore } = validateLimiterOptions(id, options, current.stores, this.#env());
    const stores = implicitStore === undefined ? current.stores : new Map(current.stores).set(implicitStore.id, implicitStore);
    this.#apply({ ...current, stores, limiters: new Map(current.limiters).set(id, limiter) });
    return limiter;
  }

  /** The limiter declared as `id`. @throws LimiterNotFoundError */
  getLimiter(id: string): Promise<Limiter> {
    return this.#limiter(id, undefined);
  }

  /**
   * The limiter `baseId:uniqueId`: its own state, the settings of `baseId`. Repeated calls return
   * the same instance; a clone that is no longer referenced and has gone idle costs nothing.
   */
  getOrCloneLimiter(baseId: string, uniqueId: string): Promise<Limiter> {
    if (typeof uniqueId !== 'string' || uniqueId.length === 0 || uniqueId.length > MAX_KEY_LENGTH) {
      return Promise.reject(
        new InvalidArgumentError('uniqueId', `Expected \`uniqueId\` to be a string of 1..${MAX_KEY_LENGTH} characters`, baseId),
      );
    }
    return this.#limiter(baseId, uniqueId);
  }

  /** Registers `newId` with the settings of `sourceId` and some limits overridden. */
  async cloneLimiter(sourceId: string, newId: string, overrides: LimiterOverrides = {}): Promise<Limiter> {
    const link = this.#ensureLink();
    const info = await link.clone(sourceId, newId, overrides);
    this.#limiters.delete(newId);
    return this.#remember(new Limiter(link, info));
  }

  /** The coordinator of this instance, created on first use (for transports and embedding). */
  get coordinator(): Coordinator {
    this.#ensureLink();
    if (this.#coordinator === undefined) {
      throw new CoordinatorUnavailableError(`the coordinator runs in the primary's main thread, not in this ${role}`);
    }
    return this.#coordinator;
  }

  /** @internal Resolves once a configuration is in place: loaded, configured or discovered. */
  whenConfigured(): Promise<void> {
    return this.#whenConfigured;
  }

  /**
   * Primary: refuses all waiters with CoordinatorUnavailableError, releases every lease, closes the
   * stores; threads and forks then get CoordinatorUnavailableError too. Thread or fork: closes this
   * client's connection (its leases are released, its waiters dropped).
   */
  async shutdown(): Promise<void> {
    if (this.#link instanceof RemoteLink) this.#link.close();
    await this.#coordinator?.shutdown();
  }

  #limiter(base: string, key: string | undefined): Promise<Limiter> {
    const id = key === undefined ? base : `${base}:${key}`;
    const cached = this.#limiters.get(id)?.deref();
    if (cached !== undefined) return Promise.resolve(cached);
    const pending = this.#pending.get(id);
    if (pending !== undefined) return pending;
    let info: LimiterInfo | Promise<LimiterInfo>;
    try {
      const link = this.#ensureLink();
      info = link.describe(base, key);
      if (!(info instanceof Promise)) return Promise.resolve(this.#remember(new Limiter(link, info)));
    } catch (err) {
      return Promise.reject(this.#explain(err));
    }
    // A remote link answers later: concurrent calls for the same id share one request.
    const link = this.#ensureLink();
    const made = info.then(
      (described) => this.#remember(new Limiter(link, described)),
      (err: unknown) => {
        throw this.#explain(err);
      },
    );
    this.#pending.set(id, made);
    void made.finally(() => this.#pending.delete(id)).catch(() => undefined);
    return made;
  }

  #remember(limiter: Limiter): Limiter {
    this.#limiters.set(limiter.id, new WeakRef(limiter));
    this.#forget.register(limiter, limiter.id);
    return limiter;
  }

  /**
   * Adds to a not-found error where the configuration was looked for, when nothing was found, or
   * that a thread's or fork's own configuration does not count.
   */
  #explain(err: unknown): unknown {
    if (!(err instanceof LimiterNotFoundError)) return err;
    if (this.#link instanceof RemoteLink) {
      if (!this.#config?.limiters.has(err.limiterId)) return err;
      return new LimiterNotFoundError(
        err.limiterId,
        err.details.known,
        `It is configured in this ${role}, but threads and forks are served from the primary's configuration: configure it in the primary's main thread.`,
      );
    }
    if (this.#config !== EMPTY) return err;
    const searched = configSearchPaths(this.#options.cwd ?? process.cwd(), this.#env());
    return new LimiterNotFoundError(
      err.limiterId,
      [],
      `No configuration file was found (searched: ${searched.join(', ')}); ` +
        'create rate-sync.toml, set RATE_SYNC_CONFIG, or call loadConfig() / configureLimiter().',
    );
  }

  #env(): NodeJS.ProcessEnv {
    return this.#options.env ?? process.env;
  }

  #ensureConfig(): RateSyncConfig {
    if (this.#config !== undefined) return this.#config;
    const file =
      this.#options.configFile === false
        ? undefined
        : (this.#options.configFile ?? discoverConfigFile(this.#options.cwd ?? process.cwd(), this.#env()));
    const config = file === undefined ? EMPTY : loadConfigFile(file, this.#env());
    this.#config = config;
    this.#configured();
    return config;
  }

  #ensureLink(): CoordinatorLink {
    const connect = this.#link === undefined ? clientConnector() : undefined;
    if (connect !== undefined) {
      const kind = role === 'thread' ? 'thread' : 'fork';
      this.#link = new RemoteLink({ connect, kind, connectTimeoutMs: this.#options.connectTimeoutMs ?? connectTimeoutMs(this.#env()) });
    }
    if (this.#link === undefined) {
      const config = this.#ensureConfig();
      this.#coordinator = new Coordinator(config, {
        ...(this.#options.clock === undefined ? {} : { clock: this.#options.clock }),
        ...(this.#options.storeFactory === undefined ? {} : { storeFactory: this.#options.storeFactory }),
        ...(this.#options.log === undefined ? {} : { log: this.#options.log }),
      });
      this.#link = new LocalLink(this.#coordinator);
    }
    return this.#link;
  }

  #apply(config: RateSyncConfig): void {
    this.#coordinator?.configure(config);
    this.#config = config;
    this.#configured();
  }
}
