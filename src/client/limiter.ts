/**
 * The public face of a limiter: the same class, with the same behaviour, in the primary, in a
 * worker thread, in a fork. It only validates arguments and talks to a `CoordinatorLink`.
 */
import type { LimiterInfo, LimiterState } from '../coordinator/coordinator.js';
import type { Grant } from '../coordinator/protocol.js';
import type { LimiterMetrics } from '../coordinator/stats.js';
import type { LimiterConfig } from '../config/types.js';
import { InvalidArgumentError, RateLimitTimeoutError } from '../errors.js';
import type { CoordinatorLink } from './link.js';
import { Permit } from './permit.js';

export interface AcquireOptions {
  /**
   * How long to wait, in milliseconds: 0 = one try, no wait; `Infinity` = forever.
   * @default the limiter's `timeout` from the configuration, else forever
   */
  timeoutMs?: number;
  /** Units to take. @default 1 */
  cost?: number;
  /** Cancels the wait; the promise rejects with `signal.reason` and nothing is consumed. */
  signal?: AbortSignal;
}

export interface TryAcquireOptions extends AcquireOptions {
  /** @default 0 (one try) */
  timeoutMs?: number;
}

function checkOptions(id: string, o: AcquireOptions | undefined): void {
  if (o === undefined) return;
  if (typeof o !== 'object' || o === null) {
    throw new InvalidArgumentError('options', `Expected options to be an object, got ${String(o)}`, id);
  }
  const { timeoutMs, cost, signal } = o;
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0)) {
    throw new InvalidArgumentError(
      'timeoutMs',
      `Expected \`timeoutMs\` to be a number >= 0 (or Infinity), got ${String(timeoutMs)} (${typeof timeoutMs})`,
      id,
    );
  }
  if (cost !== undefined && (typeof cost !== 'number' || !Number.isInteger(cost) || cost < 1)) {
    throw new InvalidArgumentError(
      'cost',
      `Expected \`cost\` to be an integer >= 1, got ${String(cost)} (${typeof cost})`,
      id,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('signal', 'Expected `signal` to be an AbortSignal', id);
  }
}

export class Limiter {
  /** The id callers use: `base`, or `base:key` for a getOrCloneLimiter() clone. */
  readonly id: string;
  /** The configuration in force when the limiter was obtained. */
  readonly config: Readonly<LimiterConfig>;
  readonly #link: CoordinatorLink;
  readonly #base: string;
  readonly #key: string | undefined;
  readonly #release: (lease: string) => void;

  /** @internal Obtain limiters with getLimiter() / getOrCloneLimiter(). */
  constructor(link: CoordinatorLink, info: LimiterInfo) {
    this.id = info.id;
    this.config = info.config;
    this.#link = link;
    this.#base = info.base;
    this.#key = info.key;
    this.#release = (lease) => link.release(lease);
  }

  /**
   * Waits for a permit, FIFO with the other callers of this key.
   * @throws RateLimitTimeoutError when none is granted within the timeout.
   */
  async acquire(options?: AcquireOptions): Promise<Permit> {
    const grant = this.#request(options, undefined);
    return new Permit(this.id, grant instanceof Promise ? await grant : grant, this.#release);
  }

  /** Like acquire(), but resolves with null instead of throwing on timeout. One try by default. */
  async tryAcquire(options?: TryAcquireOptions): Promise<Permit | null> {
    try {
      const grant = this.#request(options, 0);
      return new Permit(this.id, grant instanceof Promise ? await grant : grant, this.#release);
    } catch (err) {
      if (err instanceof RateLimitTimeoutError) return null;
      throw err;
    }
  }

  /** Runs `fn` holding a permit, and releases it when `fn` settles, whether it returns or throws. */
  async withPermit<T>(fn: (permit: Permit) => T | PromiseLike<T>, options?: AcquireOptions): Promise<T> {
    const permit = await this.acquire(options);
    try {
      return await fn(permit);
    } finally {
      permit.release();
    }
  }

  /** What the limiter would do now, consuming nothing. */
  state(): Promise<LimiterState> {
    return this.#link.state(this.#base, this.#key);
  }

  /** Host-wide counters of this limiter's configuration (clones share their base's). */
  metrics(): Promise<LimiterMetrics> {
    return this.#link.metrics(this.#base, this.#key);
  }

  #request(options: AcquireOptions | undefined, defaultTimeoutMs: number | undefined): Grant | Promise<Grant> {
    checkOptions(this.id, options);
    return this.#link.acquire(
      {
        limiter: this.#base,
        key: this.#key,
        cost: options?.cost ?? 1,
        timeoutMs: options?.timeoutMs ?? defaultTimeoutMs,
      },
      options?.signal,
    );
  }
}
