/**
 * How a `Limiter` reaches the coordinator. In the primary's main thread the link calls the
 * coordinator directly (no serialisation); in worker threads, forks and other hosts' clients a
 * remote link carries the same requests as protocol messages. The facade never knows which.
 */
import type { Coordinator, LimiterInfo, LimiterState, Peer } from '../coordinator/coordinator.js';
import type { Grant } from '../coordinator/protocol.js';
import type { LimiterMetrics } from '../coordinator/stats.js';
import type { LimiterOverrides } from '../config/types.js';
import { errorFromWire, RateSyncError, type WireError } from '../errors.js';

export interface AcquireArgs {
  readonly limiter: string;
  readonly key?: string | undefined;
  readonly cost: number;
  /** undefined: the limiter's default; Infinity: forever; 0: one try. */
  readonly timeoutMs?: number | undefined;
}

export interface CoordinatorLink {
  /**
   * A grant, or a promise of one that rejects with a RateSyncError (or `signal.reason` when
   * aborted). A link may answer synchronously, or throw, when the answer is known at once.
   */
  acquire(args: AcquireArgs, signal?: AbortSignal): Grant | Promise<Grant>;
  release(lease: string): void;
  /** May answer synchronously (the local link does). */
  describe(limiter: string, key?: string): LimiterInfo | Promise<LimiterInfo>;
  clone(source: string, newId: string, overrides: LimiterOverrides): Promise<LimiterInfo>;
  state(limiter: string, key?: string): Promise<LimiterState>;
  metrics(limiter: string, key?: string): Promise<LimiterMetrics>;
}

/** Rebuilds a rejection the coordinator produced (an error object, or its wire form). */
export function asError(error: RateSyncError | WireError): RateSyncError {
  return error instanceof RateSyncError ? error : errorFromWire(error);
}

/** The primary's own link: direct calls into the coordinator of this thread. */
export class LocalLink implements CoordinatorLink {
  readonly #coordinator: Coordinator;
  readonly #peer: Peer;
  #seq = 0;

  constructor(coordinator: Coordinator) {
    this.#coordinator = coordinator;
    this.#peer = coordinator.connect('local', `main thread of pid ${process.pid}`);
  }

  acquire(args: AcquireArgs, signal?: AbortSignal): Grant | Promise<Grant> {
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    const coordinator = this.#coordinator;
    const peer = this.#peer;
    const id = ++this.#seq;
    let now: { error: RateSyncError | WireError | null; grant: Grant | null } | undefined;
    let later: ((error: RateSyncError | WireError | null, grant: Grant | null) => void) | undefined;
    coordinator.acquire(peer, id, args, (error, grant) => {
      if (later === undefined) now = { error, grant };
      else later(error, grant);
    });
    // Most requests are answered before acquire() returns: no promise, no listener.
    if (now !== undefined) {
      if (now.error !== null) throw asError(now.error);
      return now.grant as Grant;
    }
    return new Promise<Grant>((resolve, reject) => {
      const onAbort = (): void => {
        reject(signal?.reason);
        coordinator.cancel(peer, id);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      later = (error, grant) => {
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted === true) {
          // Already rejected with the abort reason; a grant that lost the race goes straight back.
          if (grant?.lease != null) coordinator.release(grant.lease);
        } else if (error !== null) reject(asError(error));
        else resolve(grant as Grant);
      };
    });
  }

  release(lease: string): void {
    this.#coordinator.release(lease);
  }

  describe(limiter: string, key?: string): LimiterInfo {
    return this.#coordinator.describe(limiter, key);
  }

  async clone(source: string, newId: string, overrides: LimiterOverrides): Promise<LimiterInfo> {
    return this.#coordinator.clone(source, newId, overrides);
  }

  state(limiter: string, key?: string): Promise<LimiterState> {
    return this.#coordinator.state(limiter, key);
  }

  async metrics(limiter: string, key?: string): Promise<LimiterMetrics> {
    return this.#coordinator.metrics(limiter, key);
  }
}
