/**
 * The coordinator's view of the configuration: each configured limiter resolved to its policy,
 * its store instance and its counters. Stores are shared by all limiters that name them (one
 * connection per store, never one per limiter) and survive a reload when their settings do.
 */
import { maxCost, type PolicyParams } from '../algorithms/policy.js';
import type { Clock } from '../clock.js';
import { applyOverrides } from '../config/index.js';
import type { LimiterConfig, LimiterOverrides, RateSyncConfig, StoreConfig } from '../config/types.js';
import { InvalidArgumentError } from '../errors.js';
import type { StoreFactory } from '../stores/index.js';
import type { LimiterSpec, Store, StoreHooks } from '../stores/store.js';
import { LimiterStats } from './stats.js';

export interface ResolvedLimiter {
  readonly config: LimiterConfig;
  readonly spec: LimiterSpec;
  readonly store: Store;
  readonly stats: LimiterStats;
  /** The wait of a call that gives no timeout: the limiter's `timeout`, else forever. */
  readonly defaultTimeoutMs: number;
  readonly maxCost: number;
  /**
   * Whether the key's timer must fire on the instant, not a millisecond off as Node's do. A
   * token bucket absorbs a late grant in its burst; with less than 1 ms of burst the lateness
   * is lost for good (~6% at 200/s, burst 1). Past 50 ms between grants the loss is under
   * ~0.5% and not worth holding the event loop for (think of many slow per-user clones).
   */
  readonly preciseWake: boolean;
}

const PRECISE_BELOW_SLACK_MS = 1;
const PRECISE_BELOW_INTERVAL_MS = 50;

function needsPreciseWake({ rate }: PolicyParams): boolean {
  if (rate === undefined) return false;
  return (rate.burst - 1) * rate.intervalMs < PRECISE_BELOW_SLACK_MS && rate.intervalMs < PRECISE_BELOW_INTERVAL_MS;
}

export function policyOf(config: LimiterConfig): PolicyParams {
  return {
    ...(config.ratePerSecond === undefined
      ? {}
      : { rate: { intervalMs: 1000 / config.ratePerSecond, burst: config.burst ?? 1 } }),
    ...(config.algorithm === 'sliding_window' && config.limit !== undefined && config.windowSeconds !== undefined
      ? { window: { limit: config.limit, windowMs: config.windowSeconds * 1000 } }
      : {}),
    ...(config.maxConcurrent === undefined
      ? {}
      : { concurrency: { max: config.maxConcurrent, leaseMs: config.leaseSeconds * 1000 } }),
  };
}

interface StoreSlot {
  readonly key: string;
  readonly store: Store;
}

export class LimiterTable {
  readonly #factory: StoreFactory;
  readonly #clock: Clock;
  readonly #hooks: StoreHooks;
  #stores = new Map<string, StoreSlot>();
  #limiters = new Map<string, ResolvedLimiter>();
  /** Limiters made by cloneLimiter(), re-derived from their source on every reload. */
  readonly #clones = new Map<string, { source: string; overrides: LimiterOverrides }>();

  constructor(factory: StoreFactory, clock: Clock, hooks: StoreHooks = {}) {
    this.#factory = factory;
    this.#clock = clock;
    this.#hooks = hooks;
  }

  get(id: string): ResolvedLimiter | undefined {
    return this.#limiters.get(id);
  }

  ids(): string[] {
    return [...this.#limiters.keys()];
  }

  entries(): IterableIterator<[string, ResolvedLimiter]> {
    return this.#limiters.entries();
  }

  /** The configured limiter a cloneLimiter() clone was made from (through clones of clones). */
  rootOf(id: string): string {
    let root = id;
    for (let clone = this.#clones.get(root); clone !== undefined; clone = this.#clones.get(root)) root = clone.source;
    return root;
  }

  /**
   * Switches to a new configuration. All-or-nothing: if a store cannot be created the old
   * configuration stays. Stores whose settings are gone or changed are closed.
   */
  apply(config: RateSyncConfig): void {
    const stores = new Map<string, StoreSlot>();
    try {
      for (const [id, storeConfig] of config.stores) {
        const key = JSON.stringify(storeConfig);
        const old = this.#stores.get(id);
        stores.set(id, old?.key === key ? old : { key, store: this.#factory(storeConfig, this.#clock, this.#hooks) });
      }
    } catch (err) {
      for (const [id, slot] of stores) if (this.#stores.get(id) !== slot) void slot.store.close();
      throw err;
    }
    const limiters = new Map<string, ResolvedLimiter>();
    for (const [id, limiterConfig] of config.limiters) limiters.set(id, this.#resolve(limiterConfig, stores));
    for (const [id, clone] of this.#clones) {
      const source = limiters.get(clone.source);
      if (source === undefined) this.#clones.delete(id);
      else limiters.set(id, this.#resolve(applyOverrides(source.config, id, clone.overrides), stores));
    }
    for (const [id, slot] of this.#stores) if (stores.get(id) !== slot) void slot.store.close();
    this.#stores = stores;
    this.#limiters = limiters;
  }

  /** Registers `newId` as a copy of `source` with some limits overridden (idempotent for equal settings). */
  clone(source: string, newId: string, overrides: LimiterOverrides): ResolvedLimiter | undefined {
    const base = this.#limiters.get(source);
    if (base === undefined) return undefined;
    const config = applyOverrides(base.config, newId, overrides);
    const existing = this.#limiters.get(newId);
    if (existing !== undefined) {
      if (JSON.stringify(existing.config) === JSON.stringify(config)) return existing;
      throw new InvalidArgumentError(
        'newId',
        `Limiter "${newId}" already exists with other settings; pick another id for the clone`,
        newId,
      );
    }
    const resolved = this.#resolve(config, this.#stores);
    this.#limiters.set(newId, resolved);
    this.#clones.set(newId, { source, overrides });
    return resolved;
  }

  async close(): Promise<void> {
    const stores = [...this.#stores.values()];
    this.#stores = new Map();
    this.#limiters = new Map();
    await Promise.all(stores.map((slot) => slot.store.close()));
  }

  #resolve(config: LimiterConfig, stores: ReadonlyMap<string, StoreSlot>): ResolvedLimiter {
    const slot = stores.get(config.store);
    if (slot === undefined) throw new Error(`limiter "${config.id}" names store "${config.store}", which is not configured`);
    const policy = policyOf(config);
    const previous = this.#limiters.get(config.id);
    return {
      config,
      spec: { id: config.id, storeId: config.store, policy, failClosed: config.failClosed },
      store: slot.store,
      // Counters are monotonic: a reload keeps them.
      stats: previous?.stats ?? new LimiterStats(),
      defaultTimeoutMs: config.timeout === undefined ? Infinity : config.timeout * 1000,
      maxCost: maxCost(policy),
      preciseWake: needsPreciseWake(policy),
    };
  }
}
