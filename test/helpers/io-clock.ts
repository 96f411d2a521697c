/**
 * Virtual time over real I/O: the behaviour suite runs against a real Redis in virtual time
 * (the store passes the fake clock's `now` to its scripts). A FakeClock fires timers at their
 * instants; this one also waits, before each instant, until every store call in flight has
 * been answered, so that what a Redis reply arms is armed before time moves on.
 */
import type { Clock } from '../../src/clock.js';
import type { StoreConfig } from '../../src/config/types.js';
import { MemoryStore, RedisStore, type StoreFactory } from '../../src/stores/index.js';
import type { AcquireItem, LimiterSpec, Store, StoreHooks } from '../../src/stores/store.js';
import { FakeClock, flushPromises } from '../../src/testing.js';

/** Store calls not yet answered. */
export class Inflight {
  readonly #pending = new Set<Promise<unknown>>();

  track<T>(result: T): T {
    if (result instanceof Promise) {
      this.#pending.add(result);
      const done = (): void => {
        this.#pending.delete(result);
      };
      result.then(done, done);
    }
    return result;
  }

  /** Resolves once no call is in flight and the promise callbacks of the answers have run. */
  async settled(): Promise<void> {
    for (;;) {
      await flushPromises();
      if (this.#pending.size === 0) {
        await flushPromises();
        if (this.#pending.size === 0) return;
      } else {
        await Promise.allSettled([...this.#pending]);
      }
    }
  }
}

export class IoFakeClock extends FakeClock {
  readonly inflight: Inflight;

  constructor(inflight = new Inflight()) {
    super();
    this.inflight = inflight;
  }

  override async advance(ms: number): Promise<void> {
    const target = this.now() + ms;
    for (;;) {
      await this.inflight.settled();
      const next = this.nextTimerAt();
      if (next === undefined || next > target) break;
      await super.advance(Math.max(0, next - this.now()));
    }
    await super.advance(Math.max(0, target - this.now()));
    await this.inflight.settled();
  }
}

/** A store whose calls the Inflight sees. */
class TrackedStore implements Store {
  readonly #inner: Store;
  readonly #inflight: Inflight;

  constructor(inner: Store, inflight: Inflight) {
    this.#inner = inner;
    this.#inflight = inflight;
  }

  get id(): string {
    return this.#inner.id;
  }

  get engine(): string {
    return this.#inner.engine;
  }

  get synchronous(): boolean {
    return this.#inner.synchronous;
  }

  get inner(): Store {
    return this.#inner;
  }

  acquire(spec: LimiterSpec, key: string, items: readonly AcquireItem[]) {
    return this.#inflight.track(this.#inner.acquire(spec, key, items));
  }

  release(spec: LimiterSpec, key: string, leaseId: string) {
    return this.#inflight.track(this.#inner.release(spec, key, leaseId));
  }

  renew(spec: LimiterSpec, key: string, leaseIds: readonly string[]) {
    return this.#inflight.track(this.#inner.renew(spec, key, leaseIds));
  }

  inspect(spec: LimiterSpec, key: string) {
    return this.#inflight.track(this.#inner.inspect(spec, key));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** Redis stores that decide at the fake clock's time, memory stores as usual. */
export function virtualTimeStores(inflight: Inflight): StoreFactory {
  return (config: StoreConfig, clock: Clock, hooks?: StoreHooks) =>
    config.engine === 'redis'
      ? new TrackedStore(new RedisStore(config, { clock, useClockTime: true, ...(hooks === undefined ? {} : { hooks }) }), inflight)
      : new MemoryStore(config.id, { clock });
}
