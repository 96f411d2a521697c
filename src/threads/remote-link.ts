/**
 * The client stub: a `CoordinatorLink` that carries a Limiter's calls as protocol messages over a
 * connection to the primary's coordinator. Used automatically in worker threads and forks, so the
 * `Limiter` API is the same there as in the primary.
 *
 * - Handshake: the first message is `hello`; requests made before the coordinator's `ready` wait
 *   locally and leave together when it comes. Without an answer within `connectTimeoutMs`, every
 *   waiting call fails with a CoordinatorUnavailableError that says what to do, and the next call
 *   tries again (a primary that configures itself late is still reached).
 * - Any number of requests in flight; the connection batches what is sent in one turn.
 * - Abort: the caller's promise rejects at once and a `cancel` follows; if the grant crossed the
 *   cancel on the way, its lease is released as soon as it arrives — never leaked.
 * - A connection that closes (coordinator shut down, primary or relay gone) fails every pending
 *   call with CoordinatorUnavailableError, and every later one at once: never a hang.
 * - When the coordinator's `ready` says `renews` (a thread whose exit its main thread cannot see),
 *   the client renews the leases it holds every third of their lease_seconds, so they come back
 *   on their own after lease_seconds if this thread dies.
 */
import { threadId } from 'node:worker_threads';
import type { AcquireArgs, CoordinatorLink } from '../client/link.js';
import type { LimiterOverrides } from '../config/types.js';
import type { LimiterInfo, LimiterState } from '../coordinator/coordinator.js';
import { PROTOCOL_VERSION, type ClientKind, type Grant } from '../coordinator/protocol.js';
import type { LimiterMetrics } from '../coordinator/stats.js';
import { CoordinatorUnavailableError, errorFromWire, type WireError } from '../errors.js';
import { LeaseRenewal } from './lease-renewal.js';
import { ACQUIRE, CANCEL, DEFAULT_TIMEOUT, GRANT, RELEASE } from './codec.js';
import type { Connection } from './connection.js';

export interface RemoteLinkOptions {
  /** Opens a new connection towards the coordinator. */
  readonly connect: () => Connection;
  readonly kind: Extract<ClientKind, 'thread' | 'fork'>;
  /** How long to wait for the coordinator's `ready`. */
  readonly connectTimeoutMs: number;
}

interface Pending {
  resolve: (value: never) => void;
  reject: (error: unknown) => void;
  /** The caller gave up (aborted): the answer is dropped, a late grant returned. */
  abandoned: boolean;
  /** For an acquire: the limiter (and clone key) its lease, if any, belongs to. */
  limiter?: string;
  key?: string | undefined;
}

type Reply = { type: 'reply'; id: number; ok: true; value: unknown } | { type: 'reply'; id: number; ok: false; error: WireError };

export class RemoteLink implements CoordinatorLink {
  readonly #options: RemoteLinkOptions;
  #connection: Connection | undefined;
  #ready = false;
  /** Set once the connection is gone for good: every call fails with it. */
  #closed: CoordinatorUnavailableError | undefined;
  /** Messages waiting for the coordinator's `ready`. */
  #queue: unknown[] = [];
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Set when the coordinator leaves this client's leases to it. */
  #renewal: LeaseRenewal | undefined;
  /** lease_seconds of each limiter this link described, in ms (for the renewals). */
  readonly #leaseMs = new Map<string, number>();

  constructor(options: RemoteLinkOptions) {
    this.#options = options;
  }

  acquire(args: AcquireArgs, signal?: AbortSignal): Promise<Grant> {
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    const id = ++this.#seq;
    const timeout = args.timeoutMs === undefined ? DEFAULT_TIMEOUT : args.timeoutMs === Infinity ? null : args.timeoutMs;
    const message = [ACQUIRE, id, args.limiter, args.cost, timeout];
    if (args.key !== undefined) message.push(args.key);
    const { limiter, key } = args;
    return new Promise<Grant>((resolve, reject) => {
      if (signal === undefined) return this.#request(id, { resolve, reject, abandoned: false, limiter, key }, message);
      const pending: Pending = {
        limiter,
        key,
        resolve: (grant) => {
          signal.removeEventListener('abort', onAbort);
          resolve(grant);
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
        abandoned: false,
      };
      const onAbort = (): void => {
        if (!this.#pending.has(id)) return;
        pending.abandoned = true;
        reject(signal.reason);
        this.#post([CANCEL, id]);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#request(id, pending, message);
    });
  }

  release(lease: string): void {
    this.#renewal?.forget(lease);
    this.#post([RELEASE, lease]);
  }

  async describe(limiter: string, key?: string): Promise<LimiterInfo> {
    return this.#learn(await this.#ask<LimiterInfo>({ type: 'describe', limiter, ...(key === undefined ? {} : { key }) }));
  }

  async clone(source: string, newId: string, overrides: LimiterOverrides): Promise<LimiterInfo> {
    return this.#learn(await this.#ask<LimiterInfo>({ type: 'clone', source, newId, overrides }));
  }

  state(limiter: string, key?: string): Promise<LimiterState> {
    return this.#ask({ type: 'state', limiter, ...(key === undefined ? {} : { key }) });
  }

  metrics(limiter: string, key?: string): Promise<LimiterMetrics> {
    return this.#ask({ type: 'metrics', limiter, ...(key === undefined ? {} : { key }) });
  }

  /** Closes the connection: the coordinator releases this client's leases and drops its waiters. */
  close(reason = 'this client was shut down'): void {
    const connection = this.#connection;
    this.#fail(new CoordinatorUnavailableError(reason), true);
    connection?.close(reason);
  }

  /** Every limiter is described before it grants anything: remember how long its leases live. */
  #learn(info: LimiterInfo): LimiterInfo {
    this.#leaseMs.set(info.id, info.config.leaseSeconds * 1000);
    return info;
  }

  #ask<T>(body: Record<string, unknown>): Promise<T> {
    const id = ++this.#seq;
    return new Promise<T>((resolve, reject) => {
      this.#request(id, { resolve: resolve as (value: never) => void, reject, abandoned: false }, { v: PROTOCOL_VERSION, ...body, id });
    });
  }

  #request(id: number, pending: Pending, message: unknown): void {
    if (this.#closed !== undefined) return pending.reject(this.#closed);
    this.#pending.set(id, pending);
    this.#post(message);
  }

  #post(message: unknown): void {
    if (this.#ready) this.#connection?.send(message);
    else if (this.#closed === undefined) {
      this.#queue.push(message);
      if (this.#connection === undefined) this.#connect();
    }
  }

  #connect(): void {
    const connection = this.#options.connect();
    this.#connection = connection;
    connection.onmessages = (batch) => this.#receive(connection, batch);
    connection.onclose = (reason) => {
      if (connection === this.#connection) this.#fail(new CoordinatorUnavailableError(reason), true);
    };
    connection.send({
      v: PROTOCOL_VERSION,
      type: 'hello',
      client: { kind: this.#options.kind, pid: process.pid, threadId },
    });
    this.#timer = setTimeout(() => {
      this.#fail(new CoordinatorUnavailableError(noAnswer(this.#options)), false);
      connection.close('no answer to hello');
    }, this.#options.connectTimeoutMs);
    this.#timer.unref();
  }

  #receive(connection: Connection, batch: unknown[]): void {
    if (connection !== this.#connection) return;
    for (const message of batch) {
      if (Array.isArray(message)) {
        if (message[0] === GRANT) this.#settle(message[1] as number, true, { lease: message[2], grantedAt: message[3] });
        continue;
      }
      const type = (message as { type?: unknown } | null)?.type;
      if (type === 'reply') {
        const reply = message as Reply;
        this.#settle(reply.id, reply.ok, reply.ok ? reply.value : reply.error);
      } else if (type === 'ready') this.#open(connection, (message as { renews?: unknown }).renews === true);
      else if (type === 'error') {
        process.emitWarning(`rate-sync: the coordinator could not read a message: ${(message as { error: WireError }).error.message}`, {
          code: 'RATE_SYNC_PROTOCOL',
        });
      }
    }
  }

  #open(connection: Connection, renews: boolean): void {
    if (this.#ready) return;
    this.#ready = true;
    clearTimeout(this.#timer);
    if (renews) {
      this.#renewal = new LeaseRenewal((leases) => this.#ask<{ lost: string[] }>({ type: 'renew', leases }).then((r) => r.lost));
    }
    const queue = this.#queue;
    this.#queue = [];
    connection.sendBatch(queue);
  }

  #settle(id: number, ok: boolean, value: unknown): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    if (pending.abandoned) {
      // The caller is gone; a grant that crossed its cancel goes straight back.
      const lease = ok ? (value as Grant | null)?.lease : null;
      if (typeof lease === 'string') this.release(lease);
    } else if (ok) {
      const lease = (value as Grant | null)?.lease;
      if (this.#renewal !== undefined && typeof lease === 'string' && pending.limiter !== undefined) {
        const id = pending.key === undefined ? pending.limiter : `${pending.limiter}:${pending.key}`;
        this.#renewal.hold(lease, id, this.#leaseMs.get(id) ?? this.#leaseMs.get(pending.limiter));
      }
      pending.resolve(value as never);
    } else pending.reject(errorFromWire(value as WireError));
  }

  /** Fails every waiting call; `terminal`: later calls fail too, else the next one reconnects. */
  #fail(error: CoordinatorUnavailableError, terminal: boolean): void {
    clearTimeout(this.#timer);
    this.#renewal?.stop();
    this.#renewal = undefined;
    this.#connection = undefined;
    this.#ready = false;
    this.#queue = [];
    if (terminal) this.#closed = error;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) if (!p.abandoned) p.reject(error);
  }
}

function noAnswer(options: RemoteLinkOptions): string {
  const what = options.kind === 'thread' ? `worker thread ${threadId} of pid ${process.pid}` : `forked process ${process.pid}`;
  return (
    `no coordinator answered ${what} within ${options.connectTimeoutMs} ms. ` +
    `Start the coordinator in the primary: import rate-sync in the main thread of the process that starts this ` +
    `${options.kind === 'thread' ? 'thread' : 'process'} (before starting it) and load the configuration there ` +
    `(loadConfig(), configureLimiter() or a first getLimiter()). A thread inside a fork is served through the ` +
    `fork's main thread, which must import rate-sync too. Set RATE_SYNC_CONNECT_TIMEOUT_MS to wait longer.`
  );
}
