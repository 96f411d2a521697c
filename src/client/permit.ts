/**
 * A granted permit. Release it when the work is done (or use `withPermit`, `using`/`await using`):
 * for limiters with `max_concurrent` that frees the slot; for pure rate limiters it is a no-op
 * kept so that code does not change when a concurrency limit is added later.
 */
import type { Grant } from '../coordinator/protocol.js';

type ReleaseFn = (lease: string) => void;

interface Leaked {
  readonly limiterId: string;
  readonly lease: string;
  readonly release: ReleaseFn;
}

/** A permit dropped without release() would hold its slot until its holder exits: give it back. */
const leaked = new FinalizationRegistry<Leaked>(({ limiterId, lease, release }) => {
  process.emitWarning(
    `A permit of limiter "${limiterId}" was garbage-collected without release(); its slot was returned. ` +
      'Release permits in a finally block, or use withPermit() or `await using`.',
    { code: 'RATE_SYNC_PERMIT_LEAKED' },
  );
  release(lease);
});

export class Permit implements Disposable, AsyncDisposable {
  /** The limiter that granted it (`base` or `base:key`). */
  readonly limiterId: string;
  /** The lease id when the limiter limits concurrency, else null. */
  readonly lease: string | null;
  /** Coordinator time of the grant, epoch milliseconds. */
  readonly grantedAt: number;
  readonly #release: ReleaseFn;
  #released = false;

  constructor(limiterId: string, grant: Grant, release: ReleaseFn) {
    this.limiterId = limiterId;
    this.lease = grant.lease;
    this.grantedAt = grant.grantedAt;
    this.#release = release;
    if (grant.lease !== null) leaked.register(this, { limiterId, lease: grant.lease, release }, this);
  }

  get released(): boolean {
    return this.#released;
  }

  /** Frees the permit's slot. Idempotent: a second call does nothing. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.lease === null) return;
    leaked.unregister(this);
    this.#release(this.lease);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}
