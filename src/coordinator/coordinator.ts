/**
 * The coordinator: one per host, in the primary's main thread, owner of every limiter's waiting.
 *
 * It is an actor. Clients (the main thread itself, worker threads, forks, the Celery bridge) talk
 * to it through `Peer`s, and every call runs to completion on this one thread, so it needs no
 * locks. Per limiter key it keeps a FIFO of waiters and at most one store call in flight; when
 * the store refuses the head it says when to ask again, and one timer per key fires at that
 * instant — no polling, and only the head is retried, so no thundering herd.
 */
import { randomBytes } from 'node:crypto';
import { systemClock, type Clock, type TimerHandle, type TimerOptions } from '../clock.js';
import type { LimiterConfig, LimiterOverrides, RateSyncConfig } from '../config/types.js';
import {
  CoordinatorUnavailableError,
  InvalidArgumentError,
  LimiterNotFoundError,
  ProtocolError,
  RateLimitTimeoutError,
  RateSyncError,
  StoreUnavailableError,
  type WireError,
} from '../errors.js';
import { createStore, type StoreFactory } from '../stores/index.js';
import type { AcquireResult } from '../stores/store.js';
import { LeaseBook, type LeaseHolder, type LeaseRecord } from './lease-book.js';
import { LimiterTable, type ResolvedLimiter } from './limiter-table.js';
import { RequestIndex } from './request-index.js';
import { CANCELLED_CODE, type ClientKind, type Grant, type HelloClient, type RequestId } from './protocol.js';
import { takeSnapshot, type CoordinatorSnapshot, type SnapshotOptions } from './snapshot.js';
import type { LimiterMetrics } from './stats.js';
import { StoreErrorLog } from './store-error-log.js';
import { WaiterQueue } from './waiter-queue.js';

export interface CoordinatorOptions {
  clock?: Clock;
  storeFactory?: StoreFactory;
  /** Most waiters of one key asked for in one store call. @default 64 */
  batchSize?: number;
  /** Called with one line per notable event (leases lost, store errors: see store-error-log.ts). @default no logging */
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/** A client of the coordinator, over whatever transport. */
export interface Peer extends LeaseHolder {
  readonly id: number;
  readonly kind: ClientKind;
  readonly label: string;
  /** Set by a client's hello, before it holds anything, when its death cannot be seen. */
  renewsForItself: boolean;
  readonly waiters: RequestIndex<Waiter>;
  closed: boolean;
  /** What the client said of itself in its hello (threads, forks, relayed connections). */
  hello?: HelloClient;
}

export interface AcquireRequest {
  readonly limiter: string;
  readonly key?: string | undefined;
  readonly cost: number;
  /** undefined: the limiter's default; Infinity: forever; 0: one try. */
  readonly timeoutMs?: number | undefined;
}

export type AcquireCallback = (error: RateSyncError | WireError | null, grant: Grant | null) => void;

interface Waiter {
  readonly peer: Peer;
  readonly requestId: RequestId;
  readonly entry: KeyEntry;
  readonly cost: number;
  readonly leaseId: string | null;
  readonly enqueuedAt: number;
  readonly timeoutMs: number;
  readonly done: AcquireCallback;
  deadlineTimer: TimerHandle | undefined;
  settled: boolean;
}

interface KeyEntry {
  /** Full limiter id: `base` or `base:key`; the store's key. */
  readonly id: string;
  readonly base: string;
  readonly key: string | undefined;
  limiter: ResolvedLimiter;
  readonly queue: WaiterQueue<Waiter>;
  timer: TimerHandle | undefined;
  /** Being served (a store call may be in flight): decisions for a key are serialised. */
  busy: boolean;
  /** Something changed while busy: serve again before resting. */
  again: boolean;
  /** The store refused the head: it waits for the key's timer or a release. */
  blocked: boolean;
  /** One-try (timeout 0) waiters queued: they are refused as soon as the key blocks. */
  tries: number;
  /** A first store call is due at the next event-loop turn (async stores). */
  soon: boolean;
}

export interface LimiterInfo {
  /** The id callers use: `base` or `base:key`. */
  readonly id: string;
  readonly base: string;
  readonly key?: string;
  /** The configuration in force (for a clone: its base's, or its own after cloneLimiter). */
  readonly config: LimiterConfig;
}

export interface LimiterState {
  readonly limiter: string;
  /** Whether a request of cost 1 would be granted now. */
  readonly allowed: boolean;
  /** Units that could be granted now. */
  readonly remaining: number;
  /** Epoch ms at which one more unit could be granted (now when allowed). */
  readonly retryAt: number;
  /** Epoch ms at which the limiter is back to full capacity. */
  readonly resetAt: number;
  /** Lease units held (limiters with max_concurrent). */
  readonly inFlight: number;
  /** Requests queued on this key in this host. */
  readonly waiting: number;
}

const PRECISE: TimerOptions = Object.freeze({ precise: true });
const CANCELLED: WireError = Object.freeze({ code: CANCELLED_CODE, message: 'cancelled by the client' });

export class Coordinator {
  readonly #clock: Clock;
  readonly #batchSize: number;
  readonly #log: NonNullable<CoordinatorOptions['log']>;
  readonly #table: LimiterTable;
  readonly #entries = new Map<string, KeyEntry>();
  readonly #leases: LeaseBook;
  readonly #storeErrors: StoreErrorLog;
  readonly #peers = new Set<Peer>();
  readonly #leasePrefix = randomBytes(6).toString('base64url');
  #leaseSeq = 0;
  #peerSeq = 0;
  #closed: string | undefined;

  constructor(config: RateSyncConfig, options: CoordinatorOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#batchSize = options.batchSize ?? 64;
    this.#log = options.log ?? (() => undefined);
    this.#table = new LimiterTable(options.storeFactory ?? createStore, this.#clock, {
      keyChanged: (key) => this.#keyChanged(key),
      ...(options.log === undefined ? {} : { log: options.log }),
    });
    this.#leases = new LeaseBook(this.#clock, (records) => this.#leasesLost(records));
    this.#storeErrors = new StoreErrorLog(this.#clock, this.#log);
    this.#table.apply(config);
  }

  get clock(): Clock {
    return this.#clock;
  }

  limiterIds(): string[] {
    return this.#table.ids();
  }

  /** Switches to a new configuration; waiters of limiters that disappear are refused. */
  configure(config: RateSyncConfig): void {
    this.#table.apply(config);
    for (const entry of [...this.#entries.values()]) {
      const limiter = this.#table.get(entry.key === undefined ? entry.base : entry.id) ?? this.#table.get(entry.base);
      if (limiter === undefined) {
        const error = new LimiterNotFoundError(entry.id, this.#table.ids(), 'It was removed by a configuration reload.');
        for (const w of entry.queue.live()) this.#settle(w, error, null);
        this.#clearTimer(entry);
        this.#entries.delete(entry.id);
      } else {
        entry.limiter = limiter;
        this.#pump(entry);
      }
    }
  }

  connect(kind: ClientKind, label: string): Peer {
    const peer: Peer = {
      id: ++this.#peerSeq,
      kind,
      label,
      renewsForItself: kind === 'bridge',
      waiters: new RequestIndex(),
      leases: new Set(),
      closed: false,
    };
    this.#peers.add(peer);
    return peer;
  }

  /** A client went away: its waiters leave the queues and its leases are released, at once. */
  disconnect(peer: Peer): void {
    if (peer.closed) return;
    peer.closed = true;
    this.#peers.delete(peer);
    for (const w of peer.waiters.values()) this.#withdraw(w);
    for (const lease of [...peer.leases]) this.release(lease);
  }

  peers(): Peer[] {
    return [...this.#peers];
  }

  /**
   * Asks for a permit. `done` is called exactly once: synchronously when the answer is known at
   * once (a grant from an embedded store, an error), else when granted, timed out or cancelled.
   * `id` names the request for cancel(); it must be unique among the peer's pending requests.
   */
  acquire(peer: Peer, id: RequestId, req: AcquireRequest, done: AcquireCallback): void {
    if (this.#closed !== undefined) return done(new CoordinatorUnavailableError(this.#closed), null);
    if (peer.waiters.has(id)) {
      return done(new ProtocolError(`Request id ${String(id)} is already waiting on this connection`), null);
    }
    let found: { id: string; resolved: ResolvedLimiter };
    try {
      found = this.#resolve(req.limiter, req.key);
    } catch (err) {
      return done(err as RateSyncError, null);
    }
    const limiter = found.resolved;
    if (req.cost > limiter.maxCost) {
      return done(
        new InvalidArgumentError(
          'cost',
          `Cost ${req.cost} can never be granted by limiter "${found.id}": at most ${limiter.maxCost} units fit at once`,
          found.id,
        ),
        null,
      );
    }
    const timeoutMs = req.timeoutMs ?? limiter.defaultTimeoutMs;
    const leaseId = limiter.spec.policy.concurrency === undefined ? null : `${this.#leasePrefix}.${++this.#leaseSeq}`;
    let entry = this.#entries.get(found.id);
    if (entry === undefined && limiter.store.synchronous) {
      // Nobody waits for this key, so FIFO holds without a queue: decide at once.
      const result = limiter.store.acquire(limiter.spec, found.id, [{ cost: req.cost, leaseId }]) as AcquireResult;
      if (result.granted === 1) {
        return done(null, this.#record(peer, limiter, found.id, req.cost, leaseId, 0, result.decidedAt ?? this.#clock.now()));
      }
      if (timeoutMs === 0) {
        limiter.stats.refused();
        return done(new RateLimitTimeoutError(found.id, 0), null);
      }
    }
    entry ??= this.#newEntry(found.id, req.limiter, req.key, limiter);
    if (timeoutMs === 0 && entry.blocked) {
      // One try and others ahead in the FIFO are blocked: refused without consuming anything.
      limiter.stats.refused();
      return done(new RateLimitTimeoutError(entry.id, 0), null);
    }
    const waiter: Waiter = {
      peer,
      requestId: id,
      entry,
      cost: req.cost,
      leaseId,
      enqueuedAt: this.#clock.now(),
      timeoutMs,
      done,
      deadlineTimer: undefined,
      settled: false,
    };
    entry.queue.push(waiter);
    if (timeoutMs === 0) entry.tries++;
    peer.waiters.set(id, waiter);
    limiter.stats.waiting++;
    if (timeoutMs > 0 && timeoutMs !== Infinity) {
      waiter.deadlineTimer = this.#clock.setTimeout(() => this.#expire(waiter), timeoutMs);
    }
    // Behind others, nothing changes for the head: it is served when its turn comes.
    if (entry.queue.size === 1) {
      if (limiter.store.synchronous) this.#pump(entry);
      else this.#pumpSoon(entry);
    }
  }

  /** Withdraws a pending acquire; its callback gets a cancellation (or already got its answer). */
  cancel(peer: Peer, requestId: RequestId): void {
    const waiter = peer.waiters.get(requestId);
    if (waiter !== undefined) this.#withdraw(waiter);
  }

  /** Returns a lease. Unknown and already released leases are ignored: capacity never grows. */
  release(leaseId: string): void {
    const record = this.#leases.remove(leaseId);
    if (record === undefined) return;
    record.limiter.stats.inFlight -= record.units;
    const wake = (): void => {
      const entry = this.#entries.get(record.key);
      if (entry !== undefined) this.#pump(entry);
    };
    try {
      const result = record.limiter.store.release(record.limiter.spec, record.key, leaseId);
      if (result instanceof Promise) result.then(wake, (err: unknown) => this.#storeError(record.limiter, err));
      else wake();
    } catch (err) {
      this.#storeError(record.limiter, err);
    }
  }

  /** Renewal by a client that renews for itself; returns the leases it no longer holds. */
  async renew(peer: Peer, leaseIds: readonly string[]): Promise<string[]> {
    const lost: string[] = [];
    const byKey = new Map<string, LeaseRecord[]>();
    for (const id of leaseIds) {
      const record = this.#leases.get(id);
      if (record === undefined || record.holder !== peer) {
        lost.push(id);
        continue;
      }
      this.#leases.touch(id);
      const list = byKey.get(record.key);
      if (list === undefined) byKey.set(record.key, [record]);
      else list.push(record);
    }
    for (const records of byKey.values()) {
      const first = records[0] as LeaseRecord;
      const gone = await first.limiter.store.renew(first.limiter.spec, first.key, records.map((r) => r.id));
      for (const id of gone) {
        const record = this.#leases.remove(id);
        if (record !== undefined) record.limiter.stats.inFlight -= record.units;
        lost.push(id);
      }
    }
    return lost;
  }

  describe(limiter: string, key?: string): LimiterInfo {
    this.#assertOpen();
    const { id, resolved } = this.#resolve(limiter, key);
    return { id, base: limiter, ...(key === undefined ? {} : { key }), config: resolved.config };
  }

  clone(source: string, newId: string, overrides: LimiterOverrides): LimiterInfo {
    this.#assertOpen();
    const resolved = this.#table.clone(source, newId, overrides);
    if (resolved === undefined) throw new LimiterNotFoundError(source, this.#table.ids());
    return { id: newId, base: newId, config: resolved.config };
  }

  async state(limiter: string, key?: string): Promise<LimiterState> {
    this.#assertOpen();
    const { id, resolved } = this.#resolve(limiter, key);
    const view = await resolved.store.inspect(resolved.spec, id);
    const now = this.#clock.epochOffsetMs + this.#clock.now();
    const waiting = this.#entries.get(id)?.queue.size ?? 0;
    return {
      limiter: id,
      allowed: view.remaining >= 1 && waiting === 0,
      remaining: view.remaining,
      retryAt: now + Math.max(0, view.retryAfterMs),
      resetAt: now + Math.max(0, view.resetAfterMs),
      inFlight: view.inFlight,
      waiting,
    };
  }

  /** Host-wide counters of the configured limiter behind `limiter` (clones share their base's). */
  metrics(limiter: string, key?: string): LimiterMetrics {
    this.#assertOpen();
    return this.#resolve(limiter, key).resolved.stats.snapshot();
  }

  /**
   * What the coordinator is doing now: every limiter with its counters, its busiest keys, the
   * connected clients and the stores' health (for metrics, `ratesync status` and the status page).
   */
  snapshot(options: SnapshotOptions = {}): CoordinatorSnapshot {
    return takeSnapshot(
      {
        at: this.#clock.epochOffsetMs + this.#clock.now(),
        closed: this.#closed !== undefined,
        table: this.#table,
        queued: this.#entries.values(),
        leases: this.#leases.values(),
        peers: this.#peers,
      },
      options,
    );
  }

  /** Refuses every waiter with CoordinatorUnavailableError, releases every lease, closes the stores. */
  async shutdown(reason = 'the coordinator was shut down'): Promise<void> {
    if (this.#closed !== undefined) return;
    this.#closed = reason;
    const error = new CoordinatorUnavailableError(reason);
    for (const entry of this.#entries.values()) {
      this.#clearTimer(entry);
      for (const w of entry.queue.live()) this.#settle(w, error, null);
    }
    this.#entries.clear();
    for (const peer of this.#peers) for (const lease of [...peer.leases]) this.release(lease);
    this.#peers.clear();
    this.#leases.clear();
    this.#storeErrors.close();
    await this.#table.close();
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  #assertOpen(): void {
    if (this.#closed !== undefined) throw new CoordinatorUnavailableError(this.#closed);
  }

  #resolve(limiter: string, key: string | undefined): { id: string; resolved: ResolvedLimiter } {
    if (key === undefined) {
      const resolved = this.#table.get(limiter);
      if (resolved === undefined) throw new LimiterNotFoundError(limiter, this.#table.ids());
      return { id: limiter, resolved };
    }
    const id = `${limiter}:${key}`;
    const resolved = this.#table.get(id) ?? this.#table.get(limiter);
    if (resolved === undefined) throw new LimiterNotFoundError(limiter, this.#table.ids());
    return { id, resolved };
  }

  #newEntry(id: string, base: string, key: string | undefined, limiter: ResolvedLimiter): KeyEntry {
    const entry: KeyEntry = {
      id,
      base,
      key,
      limiter,
      queue: new WaiterQueue(),
      timer: undefined,
      busy: false,
      again: false,
      blocked: false,
      tries: 0,
      soon: false,
    };
    this.#entries.set(id, entry);
    return entry;
  }

  /**
   * Serves the head of a key's queue: asks the store for up to `batchSize` waiters at once, grants
   * what it allows, and arms the key's timer for the instant the next one can be served.
   * Calls that arrive while the key is being served (a release from a callback, a store answer
   * still in flight) only mark it to be served again, so a waiter is never in two batches.
   */
  #pump(entry: KeyEntry): void {
    if (entry.busy) {
      entry.again = true;
      return;
    }
    entry.busy = true;
    this.#serve(entry);
  }

  /**
   * An async store is first asked at the next event-loop turn, so that requests arriving
   * together (callers resuming after their batch was granted) go in one call, not two.
   */
  #pumpSoon(entry: KeyEntry): void {
    if (entry.soon) return;
    entry.soon = true;
    setImmediate(() => {
      entry.soon = false;
      if (this.#closed === undefined && this.#entries.get(entry.id) === entry) this.#pump(entry);
    });
  }

  #serve(entry: KeyEntry): void {
    for (;;) {
      entry.again = false;
      entry.blocked = false;
      this.#clearTimer(entry);
      const batch = this.#nextBatch(entry);
      if (batch.length === 0) {
        entry.busy = false;
        this.#entries.delete(entry.id);
        return;
      }
      const limiter = entry.limiter;
      let result: AcquireResult | Promise<AcquireResult>;
      try {
        result = limiter.store.acquire(limiter.spec, entry.id, batch);
      } catch (err) {
        this.#storeFailed(entry, batch, err);
        continue;
      }
      if (result instanceof Promise) {
        result.then(
          (r) => this.#afterStore(entry, this.#settleBatch(entry, batch, r)),
          (err: unknown) => {
            this.#storeFailed(entry, batch, err);
            this.#afterStore(entry, true);
          },
        );
        return;
      }
      if (!this.#settleBatch(entry, batch, result) && !entry.again) {
        entry.busy = false;
        return;
      }
    }
  }

  #afterStore(entry: KeyEntry, more: boolean): void {
    if (this.#closed === undefined && (more || entry.again)) this.#serve(entry);
    else entry.busy = false;
  }

  /** The live head waiters, after timing out those whose deadline passed while they queued. */
  #nextBatch(entry: KeyEntry): Waiter[] {
    const now = this.#clock.now();
    for (;;) {
      const batch = entry.queue.front(this.#batchSize);
      const late = batch.filter((w) => w.timeoutMs > 0 && w.enqueuedAt + w.timeoutMs <= now);
      if (late.length === 0) return batch;
      for (const w of late) this.#timeOut(w);
    }
  }

  /** Applies a store answer; returns true when the key should be served again right away. */
  #settleBatch(entry: KeyEntry, batch: Waiter[], result: AcquireResult): boolean {
    if (this.#closed !== undefined) return false;
    const now = result.decidedAt ?? this.#clock.now();
    if (result.fallback === true) entry.limiter.stats.fallbackAcquisitions += result.granted;
    else this.#storeErrors.ok(entry.limiter.spec.storeId);
    for (let i = 0; i < result.granted; i++) this.#grant(batch[i] as Waiter, now);
    if (result.granted === batch.length) return true;
    const head = batch[result.granted] as Waiter;
    // The refused head left while the store was deciding, or it was a one-try request: go on.
    if (head.settled) return true;
    if (head.timeoutMs === 0) {
      this.#timeOut(head);
      return true;
    }
    entry.blocked = true;
    // One-try requests queued while the store was deciding had their try: the key is blocked.
    if (entry.tries > 0) for (const w of entry.queue.live()) if (w.timeoutMs === 0) this.#timeOut(w);
    if (result.retryAfterMs !== Infinity) {
      entry.timer = this.#clock.setTimeout(
        () => {
          entry.timer = undefined;
          this.#pump(entry);
        },
        // Counted from the decision, not from now: granting the batch took time.
        Math.max(0, result.retryAfterMs - (this.#clock.now() - now)),
        entry.limiter.preciseWake ? PRECISE : undefined,
      );
    }
    return false;
  }

  #grant(w: Waiter, now: number): void {
    const limiter = w.entry.limiter;
    if (w.settled) {
      // The caller gave up while the store was granting: hand the lease straight back.
      if (w.leaseId !== null) void limiter.store.release(limiter.spec, w.entry.id, w.leaseId);
      return;
    }
    this.#settle(w, null, this.#record(w.peer, limiter, w.entry.id, w.cost, w.leaseId, now - w.enqueuedAt, now));
  }

  /** Counts a grant, books its lease and returns what the caller receives. */
  #record(
    peer: Peer,
    limiter: ResolvedLimiter,
    key: string,
    cost: number,
    leaseId: string | null,
    waitedMs: number,
    now: number,
  ): Grant {
    limiter.stats.granted(waitedMs);
    if (leaseId !== null) {
      this.#leases.add({
        id: leaseId,
        holder: peer,
        limiter,
        key,
        units: cost,
        expiresAt: now + (limiter.spec.policy.concurrency?.leaseMs ?? 0),
      });
      limiter.stats.inFlight += cost;
    }
    return { lease: leaseId, grantedAt: this.#clock.epochOffsetMs + now };
  }

  #expire(w: Waiter): void {
    w.deadlineTimer = undefined;
    if (w.settled) return;
    const wasHead = w.entry.queue.peek() === w;
    this.#timeOut(w);
    if (wasHead) this.#pump(w.entry);
  }

  #timeOut(w: Waiter): void {
    if (w.timeoutMs === 0) w.entry.limiter.stats.refused();
    else w.entry.limiter.stats.timeouts++;
    this.#settle(w, new RateLimitTimeoutError(w.entry.id, w.timeoutMs), null);
  }

  #withdraw(w: Waiter): void {
    if (w.settled) return;
    const wasHead = w.entry.queue.peek() === w;
    w.entry.limiter.stats.cancellations++;
    this.#settle(w, CANCELLED, null);
    if (wasHead) this.#pump(w.entry);
  }

  #settle(w: Waiter, error: RateSyncError | WireError | null, grant: Grant | null): void {
    w.entry.queue.settle(w);
    if (w.timeoutMs === 0) w.entry.tries--;
    w.entry.limiter.stats.waiting--;
    w.peer.waiters.delete(w.requestId);
    if (w.deadlineTimer !== undefined) this.#clock.clearTimeout(w.deadlineTimer);
    w.deadlineTimer = undefined;
    w.done(error, grant);
  }

  #clearTimer(entry: KeyEntry): void {
    if (entry.timer !== undefined) this.#clock.clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  #storeFailed(entry: KeyEntry, batch: Waiter[], err: unknown): void {
    const limiter = entry.limiter;
    this.#storeError(limiter, err);
    const error =
      err instanceof RateSyncError
        ? err
        : new StoreUnavailableError(limiter.spec.storeId, err instanceof Error ? err.message : String(err), entry.id, {
            cause: err,
          });
    for (const w of batch) if (!w.settled) this.#settle(w, error, null);
  }

  #storeError(limiter: ResolvedLimiter, err: unknown): void {
    limiter.stats.storeErrors++;
    this.#storeErrors.error(limiter.spec.storeId, limiter.spec.id, err instanceof Error ? err.message : String(err));
  }

  /** The store saw the key change elsewhere (another host released): serve its blocked head now. */
  #keyChanged(key: string): void {
    const entry = this.#entries.get(key);
    if (entry?.blocked === true) this.#pump(entry);
  }

  #leasesLost(records: LeaseRecord[]): void {
    for (const record of records) {
      record.limiter.stats.inFlight -= record.units;
      const entry = this.#entries.get(record.key);
      if (entry !== undefined) this.#pump(entry);
    }
    this.#log('leases_lost', { leases: records.map((r) => r.id) });
  }
}
