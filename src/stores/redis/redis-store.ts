/**
 * The Redis store: limiter state shared by the coordinators of several hosts. Every decision is
 * one atomic Lua script on Redis's clock (lua/*.lua); the coordinator keeps the waiting local
 * and sends the waiters of a key that are due in one call, so a busy host costs one round trip
 * per batch, not per permit.
 *
 * When Redis cannot be reached (down, restarting, too slow for command_timeout), a limiter that
 * is `fail_closed` refuses at once with StoreUnavailableError; any other limiter is decided
 * from a local share of its quota (1 / expected_hosts, see fallback.ts), logged and counted.
 * A probe with backoff brings decisions back to Redis as soon as it answers again.
 */
import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { systemClock, type Clock } from '../../clock.js';
import type { RedisStoreConfig } from '../../config/types.js';
import { RateSyncError, StoreUnavailableError } from '../../errors.js';
import { MemoryStore } from '../memory/memory-store.js';
import type { AcquireItem, AcquireResult, KeyStateView, LimiterSpec, Store, StoreHooks } from '../store.js';
import { createClient, reconnectDelay, redactUrl } from './connection.js';
import { classify, describe } from './errors.js';
import { FallbackShares } from './fallback.js';
import { BASE_EPOCH_MS, limiterKeys, releaseChannel } from './keys.js';
import {
  acquireScript,
  defineScripts,
  inspectScript,
  releaseScript,
  renewScript,
  type NowOverride,
  type RedisClient,
} from './scripts.js';

export interface RedisStoreOptions {
  /** The coordinator's clock (fallback decisions, grant stamps). */
  clock?: Clock;
  hooks?: StoreHooks;
  /**
   * Tests only: decide at `clock.now()` instead of Redis TIME, so that the behaviour suite runs
   * against real Redis in virtual time. Never in production: hosts' clocks differ.
   */
  useClockTime?: boolean;
}

/** idle: never used; connecting: first connection; up: decisions in Redis; down: fallback. */
type Mode = 'idle' | 'connecting' | 'up' | 'down' | 'closed';

/** Releases kept while Redis is down, sent when it is back (beyond this, leases just expire). */
const MAX_PENDING_RELEASES = 10_000;

export interface RedisStoreStatus {
  readonly mode: Mode;
  /** Times Redis became unreachable. */
  readonly outages: number;
  /** Calls decided from the local fallback share. */
  readonly fallbackDecisions: number;
  readonly lastError: string | undefined;
}

export class RedisStore implements Store {
  readonly id: string;
  readonly engine = 'redis';
  readonly synchronous = false;
  readonly #config: RedisStoreConfig;
  readonly #clock: Clock;
  readonly #hooks: StoreHooks;
  readonly #useClockTime: boolean;
  readonly #client: RedisClient;
  readonly #channel: string;
  /** Names this store in release messages, so it ignores its own. */
  readonly #instance = randomBytes(6).toString('base64url');
  readonly #fallback: MemoryStore;
  readonly #shares: FallbackShares;
  /** Leases granted by the fallback: they are released and renewed there. */
  readonly #localLeases = new Set<string>();
  readonly #pendingReleases = new Map<string, { spec: LimiterSpec; key: string }>();
  /** Keys decided locally during an outage: their waiters are woken when Redis is back. */
  readonly #touchedWhileDown = new Set<string>();
  #subscriber: RedisClient | undefined;
  #mode: Mode = 'idle';
  #starting: Promise<void> | undefined;
  #downSince = 0;
  #lastError: string | undefined;
  #authError: string | undefined;
  #probeTimer: NodeJS.Timeout | undefined;
  #probeAttempt = 0;
  #outages = 0;
  #fallbackDecisions = 0;

  constructor(config: RedisStoreConfig, options: RedisStoreOptions = {}) {
    this.id = config.id;
    this.#config = config;
    this.#clock = options.clock ?? systemClock;
    this.#hooks = options.hooks ?? {};
    this.#useClockTime = options.useClockTime ?? false;
    this.#channel = releaseChannel(config.keyPrefix);
    this.#fallback = new MemoryStore(`${config.id} (local fallback)`, { clock: this.#clock });
    this.#shares = new FallbackShares(config.expectedHosts);
    this.#client = createClient(config);
    defineScripts(this.#client);
    this.#client.on('error', (err: unknown) => this.#noteError(err));
    this.#client.on('close', () => this.#down(new Error('connection lost')));
    this.#client.on('ready', () => {
      if (this.#mode === 'down') this.#scheduleProbe(0);
    });
  }

  get status(): RedisStoreStatus {
    return { mode: this.#mode, outages: this.#outages, fallbackDecisions: this.#fallbackDecisions, lastError: this.#lastError };
  }

  acquire(spec: LimiterSpec, key: string, items: readonly AcquireItem[]): Promise<AcquireResult> {
    return this.#decide<AcquireResult>(
      spec,
      async () => {
        const sentAt = this.#clock.now();
        const r = await acquireScript(this.#client, this.#keys(key), this.#now(), spec.policy, items, this.#ctx(spec));
        const retryAfterMs = r.granted === items.length ? 0 : r.retryAt - r.now;
        return { granted: r.granted, retryAfterMs, decidedAt: this.#toClock(r.now, sentAt) };
      },
      () => {
        this.#touchedWhileDown.add(key);
        const result = this.#fallback.acquire(this.#shares.of(spec), key, items);
        for (let i = 0; i < result.granted; i++) {
          const leaseId = items[i]?.leaseId;
          if (leaseId !== undefined && leaseId !== null) this.#localLeases.add(leaseId);
        }
        this.#fallbackDecisions++;
        return { ...result, fallback: true };
      },
    );
  }

  async release(spec: LimiterSpec, key: string, leaseId: string): Promise<void> {
    if (this.#localLeases.delete(leaseId)) return this.#fallback.release(this.#shares.of(spec), key, leaseId);
    if (this.#mode !== 'up') return this.#keepRelease(spec, key, leaseId);
    try {
      await releaseScript(this.#client, this.#keys(key), leaseId, this.#channel, `${this.#instance} ${key}`, this.#ctx(spec));
    } catch (err) {
      if (this.#failure(err) !== 'unavailable') throw this.#asError(spec, err);
      this.#keepRelease(spec, key, leaseId);
    }
  }

  async renew(spec: LimiterSpec, key: string, leaseIds: readonly string[]): Promise<string[]> {
    const local = leaseIds.filter((id) => this.#localLeases.has(id));
    const remote = leaseIds.filter((id) => !this.#localLeases.has(id));
    const lost = local.length === 0 ? [] : this.#fallback.renew(this.#shares.of(spec), key, local);
    for (const id of lost) this.#localLeases.delete(id);
    const leaseMs = spec.policy.concurrency?.leaseMs;
    // While Redis is away its leases cannot be renewed; the next renewal cycle tries again.
    if (remote.length === 0 || leaseMs === undefined || this.#mode !== 'up') return lost;
    try {
      return [...lost, ...(await renewScript(this.#client, this.#keys(key), this.#now(), leaseMs, remote, this.#ctx(spec)))];
    } catch (err) {
      if (this.#failure(err) !== 'unavailable') throw this.#asError(spec, err);
      return lost;
    }
  }

  inspect(spec: LimiterSpec, key: string): Promise<KeyStateView> {
    return this.#decide(
      spec,
      async () => {
        const r = await inspectScript(this.#client, this.#keys(key), this.#now(), spec.policy, this.#ctx(spec));
        return {
          remaining: r.remaining,
          retryAfterMs: r.retryAt - r.now,
          resetAfterMs: r.resetAt - r.now,
          inFlight: r.inFlight,
        };
      },
      () => this.#fallback.inspect(this.#shares.of(spec), key),
    );
  }

  async close(): Promise<void> {
    if (this.#mode === 'closed') return;
    const wasConnected = this.#mode !== 'idle';
    this.#mode = 'closed';
    if (this.#probeTimer !== undefined) clearTimeout(this.#probeTimer);
    await this.#fallback.close();
    const quit = async (client: RedisClient): Promise<void> => {
      // QUIT is answered after the commands sent before it (the last releases of a shutdown).
      if (client.status === 'ready') await client.quit().catch(() => undefined);
      client.disconnect();
    };
    if (wasConnected) await Promise.all([quit(this.#client), ...(this.#subscriber === undefined ? [] : [quit(this.#subscriber)])]);
    else this.#client.disconnect();
  }

  /** Runs `remote` on Redis when it is reachable; else applies the failure policy. */
  async #decide<T>(spec: LimiterSpec, remote: () => Promise<T>, local: () => T): Promise<T> {
    if (this.#mode === 'idle') this.#start();
    if (this.#mode === 'connecting') await this.#starting;
    if (this.#mode === 'up') {
      try {
        return await remote();
      } catch (err) {
        if (this.#failure(err) !== 'unavailable') throw this.#asError(spec, err);
      }
    }
    if (this.#mode === 'closed') throw new StoreUnavailableError(this.id, 'the store is closed', spec.id);
    if (this.#authError !== undefined) throw new StoreUnavailableError(this.id, this.#authError, spec.id);
    if (spec.failClosed === true) {
      throw new StoreUnavailableError(
        this.id,
        `Redis at ${redactUrl(this.#config.url)} is unreachable (${this.#lastError ?? 'not connected'}), and the limiter is fail_closed`,
        spec.id,
      );
    }
    return local();
  }

  /** Classifies a failed call; an unreachable Redis switches the store to its fallback. */
  #failure(err: unknown): 'unavailable' | 'error' {
    if (err instanceof RateSyncError) return 'error';
    const kind = classify(err);
    if (kind === 'auth') this.#noteError(err);
    if (kind !== 'unavailable') return 'error';
    this.#down(err);
    return 'unavailable';
  }

  #asError(spec: LimiterSpec, err: unknown): RateSyncError {
    if (err instanceof RateSyncError) return err;
    if (this.#authError !== undefined) return new StoreUnavailableError(this.id, this.#authError, spec.id, { cause: err });
    return new StoreUnavailableError(this.id, `Redis error: ${describe(err)}`, spec.id, { cause: err });
  }

  #start(): void {
    this.#mode = 'connecting';
    const connected = this.#client.connect().then(
      () => this.#up(),
      (err: unknown) => this.#down(err),
    );
    // The first calls wait for the first connection, but never longer than connect_timeout.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#down(new Error(`no connection within connect_timeout (${this.#config.connectTimeout} s)`));
        resolve();
      }, this.#config.connectTimeout * 1000);
    });
    this.#starting = Promise.race([connected, late]).finally(() => clearTimeout(timer));
  }

  #up(): void {
    if (this.#mode === 'up' || this.#mode === 'closed') return;
    const wasDown = this.#mode === 'down';
    this.#mode = 'up';
    this.#authError = undefined;
    this.#lastError = undefined;
    this.#probeAttempt = 0;
    if (this.#probeTimer !== undefined) clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    if (wasDown) {
      this.#log('store_recovered', {
        store: this.id,
        url: redactUrl(this.#config.url),
        downMs: Math.round(this.#clock.now() - this.#downSince),
        fallbackDecisions: this.#fallbackDecisions,
      });
    }
    for (const [leaseId, { spec, key }] of this.#pendingReleases) void this.release(spec, key, leaseId).catch(() => undefined);
    this.#pendingReleases.clear();
    const keys = [...this.#touchedWhileDown];
    this.#touchedWhileDown.clear();
    for (const key of keys) this.#hooks.keyChanged?.(key);
    this.#subscribe();
  }

  #down(err: unknown): void {
    // The first error since Redis was last up is the reason ("connection lost" says less).
    if (this.#lastError === undefined) this.#noteError(err);
    if (this.#mode === 'down' || this.#mode === 'closed' || this.#mode === 'idle') return;
    this.#mode = 'down';
    this.#downSince = this.#clock.now();
    this.#outages++;
    this.#log('store_unavailable', {
      store: this.id,
      url: redactUrl(this.#config.url),
      reason: this.#lastError,
      policy: `fail_closed limiters refuse; the others keep 1/${this.#config.expectedHosts} of their quota locally`,
    });
    this.#scheduleProbe();
  }

  #noteError(err: unknown): void {
    this.#lastError = describe(err);
    if (classify(err) === 'auth') {
      const user = new URL(this.#config.url).username;
      this.#authError = `Redis at ${redactUrl(this.#config.url)} refused the credentials${user === '' ? '' : ` of user "${decodeURIComponent(user)}"`}: ${this.#lastError}`;
    }
  }

  /** Pings Redis with backoff while it is down; the first answer brings decisions back. */
  #scheduleProbe(delayMs = reconnectDelay(++this.#probeAttempt)): void {
    if (this.#probeTimer !== undefined) clearTimeout(this.#probeTimer);
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      void this.#probe();
    }, delayMs);
    this.#probeTimer.unref();
  }

  async #probe(): Promise<void> {
    if (this.#mode !== 'down') return;
    // ioredis reconnects on its own after a lost connection, but not after a failed first connect.
    if (this.#client.status === 'end' || this.#client.status === 'wait') this.#client.connect().catch(() => undefined);
    if (this.#client.status === 'ready') {
      try {
        await this.#client.ping();
        this.#up();
        return;
      } catch (err) {
        this.#noteError(err);
      }
    }
    if (this.#mode === 'down' && this.#probeTimer === undefined) this.#scheduleProbe();
  }

  /** One subscriber connection per store: other hosts' releases wake this host's waiters. */
  #subscribe(): void {
    if (this.#subscriber !== undefined || this.#hooks.keyChanged === undefined) return;
    const subscriber: RedisClient = this.#client instanceof Cluster ? this.#client.duplicate() : this.#client.duplicate();
    this.#subscriber = subscriber;
    subscriber.on('error', () => undefined);
    subscriber.on('message', (_channel: string, message: string) => {
      const space = message.indexOf(' ');
      if (space > 0 && message.slice(0, space) !== this.#instance) this.#hooks.keyChanged?.(message.slice(space + 1));
    });
    subscriber
      .connect()
      .then(() => subscriber.subscribe(this.#channel))
      .catch((err: unknown) => this.#log('store_subscribe_failed', { store: this.id, error: describe(err) }));
  }

  #keepRelease(spec: LimiterSpec, key: string, leaseId: string): void {
    if (this.#pendingReleases.size < MAX_PENDING_RELEASES) this.#pendingReleases.set(leaseId, { spec, key });
  }

  #keys(key: string) {
    return limiterKeys(this.#config.keyPrefix, key);
  }

  #ctx(spec: LimiterSpec) {
    return { storeId: this.id, limiterId: spec.id };
  }

  #now(): NowOverride {
    return this.#useClockTime ? this.#clock.now() : undefined;
  }

  /**
   * A Redis decision instant on the coordinator's clock: exact when the host's wall clock agrees
   * with Redis's, and never outside the round trip (so clock skew costs at most the round trip).
   */
  #toClock(redisNow: number, sentAt: number): number {
    if (this.#useClockTime) return redisNow;
    const mapped = BASE_EPOCH_MS + redisNow - this.#clock.epochOffsetMs;
    return Math.min(Math.max(mapped, sentAt), this.#clock.now());
  }

  #log(event: string, fields: Record<string, unknown>): void {
    if (this.#hooks.log !== undefined) this.#hooks.log(event, fields);
    else console.warn(`[rate-sync] ${event} ${JSON.stringify(fields)}`);
  }
}
