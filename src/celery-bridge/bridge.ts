/**
 * The Node side of the Celery bridge: Python clients push requests to a Redis list, this pops
 * them in batches (FIFO), hands each to a coordinator `Session` of its client — exactly like a
 * thread's or a fork's messages — and pushes every reply to the client's own reply list.
 *
 * The Redis lists cannot say when a client dies, so bridge clients renew their own leases (the
 * coordinator lets them expire otherwise) and idle sessions are forgotten. Requests carry the
 * Redis time of their push: one that waited in the list past its deadline is timed out without
 * being granted, and one read after its client stopped listening is dropped.
 *
 * Connections: one for the blocking pops only (a blocking pop holds its connection), one for
 * everything else (replies are auto-pipelined: many replies, one write).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { CoordinatorMessage, RequestId } from '../coordinator/protocol.js';
import { Session } from '../coordinator/session.js';
import { RateLimitTimeoutError, RateSyncError, type WireError } from '../errors.js';
import { VERSION } from '../version.js';
import { bridgeKeys, type BridgeKeys } from './keys.js';
import { encodeReply, parseEntry, type BridgeEntry } from './message.js';
import { PRESENCE_BEAT_MS, Presence, type PresenceRecord } from './presence.js';
import { RedisClock } from './redis-clock.js';

export interface CeleryBridgeOptions {
  readonly url: string;
  readonly namespace: string;
  /**
   * Some limiter's state lives in this process only (the memory store): then this must be the
   * only coordinator serving the namespace, and starting fails if another one does.
   */
  readonly exclusive: boolean;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  /** Most entries popped per round trip. @default 256 */
  readonly batchSize?: number;
  /** Reply lists expire this long after their last reply (a dead client's list goes away). @default 30000 */
  readonly replyTtlMs?: number;
  /** A client silent this long, with no lease and no waiter, is forgotten. @default 60000 */
  readonly sessionIdleMs?: number;
  /** Connecting to Redis at start gives up after this long. @default 5000 */
  readonly connectTimeoutMs?: number;
  /** How to pop batches: BLMPOP (Redis 7) or BLPOP then LPOP COUNT (Redis 6.2). @default by server version */
  readonly popCommand?: 'BLMPOP' | 'BLPOP';
}

export interface BridgeStats {
  /** Entries popped from the lists. */
  received: number;
  /** Entries refused as garbage (invalid JSON, wrong version, bad or missing fields, too big). */
  rejected: number;
  /** Requests whose deadline passed while they waited in the list: timed out, not granted. */
  expired: number;
  /** Requests read after their client had stopped listening: dropped. */
  stale: number;
  replies: number;
  /** Error replies by code. */
  errors: Record<string, number>;
  /** Clients known now. */
  sessions: number;
  /** Times another coordinator was seen serving the namespace when one of the two must be alone. */
  conflicts: number;
}

interface BridgeClient {
  readonly session: Session;
  lastSeen: number;
  /** Where the reply of each pending request goes. */
  readonly channels: Map<RequestId, Route>;
}

interface Route {
  readonly channel: string;
  /** The timeout the client asked for, when the coordinator was given what was left of it. */
  readonly timeoutMs?: number;
}

const MAINTENANCE_MS = 2000;

export class CeleryBridge {
  /** This coordinator's id on the bridge, in replies and in the presence hash. */
  readonly id = `${hostname().replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40)}-${process.pid}-${randomBytes(4).toString('hex')}`;
  readonly keys: BridgeKeys;
  readonly #coordinator: Coordinator;
  readonly #options: CeleryBridgeOptions;
  readonly #log: NonNullable<CeleryBridgeOptions['log']>;
  readonly #command: Redis;
  readonly #blocking: Redis;
  readonly #clock: RedisClock;
  readonly #presence: Presence;
  readonly #clients = new Map<string, BridgeClient>();
  readonly #stats: Omit<BridgeStats, 'sessions'> = {
    received: 0,
    rejected: 0,
    expired: 0,
    stale: 0,
    replies: 0,
    errors: {},
    conflicts: 0,
  };
  /** When each reply list's expiry was last set (coordinator clock). */
  readonly #expiresSet = new Map<string, number>();
  #timers: NodeJS.Timeout[] = [];
  #loop: Promise<void> | undefined;
  #stopping = false;
  /** The entry being handled, for errors the session cannot tie to a request. */
  #current: BridgeEntry | undefined;
  #exclusive: boolean;
  /** The other coordinators serving the namespace, as of the last heartbeat. */
  #others: PresenceRecord[] = [];

  private constructor(coordinator: Coordinator, options: CeleryBridgeOptions) {
    this.#coordinator = coordinator;
    this.#options = options;
    this.#log = options.log ?? (() => undefined);
    this.keys = bridgeKeys(options.namespace);
    this.#exclusive = options.exclusive;
    const common = {
      lazyConnect: true,
      connectionName: `ratesync-bridge:${this.id}`,
      connectTimeout: options.connectTimeoutMs ?? 5000,
      // Back within a second of Redis coming back, without hammering it while it is away.
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 1000),
    };
    this.#command = new Redis(options.url, { ...common, enableAutoPipelining: true, maxRetriesPerRequest: 2 });
    // A blocking pop waits for its connection to come back rather than failing.
    this.#blocking = new Redis(options.url, { ...common, maxRetriesPerRequest: null });
    for (const [name, redis] of [['command', this.#command], ['blocking', this.#blocking]] as const) {
      redis.on('error', (err: Error) => this.#log('bridge_redis_error', { connection: name, error: err.message }));
    }
    this.#clock = new RedisClock(coordinator.clock, () => this.#command.time());
    const record: PresenceRecord = { id: this.id, pid: process.pid, host: hostname(), exclusive: options.exclusive, version: VERSION };
    this.#presence = new Presence(this.#command, this.keys.coordinators, record);
  }

  /**
   * Connects, announces this coordinator and starts serving the namespace's request list.
   * @throws RateSyncError when Redis cannot be reached or another coordinator may not share the list.
   */
  static async start(coordinator: Coordinator, options: CeleryBridgeOptions): Promise<CeleryBridge> {
    const bridge = new CeleryBridge(coordinator, options);
    try {
      await bridge.#start();
    } catch (err) {
      bridge.#command.disconnect();
      bridge.#blocking.disconnect();
      throw err;
    }
    return bridge;
  }

  async #start(): Promise<void> {
    const where = `Redis at ${hideSecret(this.#options.url)}`;
    try {
      await Promise.all([this.#command.connect(), this.#blocking.connect()]);
      await this.#clock.sync(3);
    } catch (err) {
      throw new RateSyncError(`The Celery bridge cannot reach ${where}: ${(err as Error).message}`, { url: hideSecret(this.#options.url) }, { cause: err });
    }
    const joined = await this.#presence.join();
    if (joined.conflict) {
      const other = joined.others[0];
      throw new RateSyncError(
        `Another rate-sync coordinator (${other === undefined ? 'unknown' : `pid ${other.pid} on ${other.host}`}) already serves ` +
          `the bridge list "${this.keys.requests}" on ${where}. Limiters on the memory store live in one process, so exactly ` +
          'one coordinator may serve a namespace; stop the other one, give this one another [bridge] namespace, or put every ' +
          'limiter on a redis store (then several coordinators may share the list).',
        { namespace: this.#options.namespace, others: joined.others },
      );
    }
    this.#every(PRESENCE_BEAT_MS, () => this.#beat());
    this.#every(MAINTENANCE_MS, () => this.#maintain());
    this.#loop = this.#popLoop();
    this.#others = joined.others;
    this.#log('bridge_started', { id: this.id, list: this.keys.requests, exclusive: this.#exclusive });
  }

  /** Whether this coordinator must be the only one serving the namespace (some limiter on the memory store). */
  get exclusive(): boolean {
    return this.#exclusive;
  }

  /** The other coordinators serving the namespace (hosts sharing its list), as of the last heartbeat. */
  others(): PresenceRecord[] {
    return [...this.#others];
  }

  /**
   * Changes whether this coordinator must serve the namespace alone (after a configuration reload
   * moved limiters between memory and redis stores).
   * @throws RateSyncError, changing nothing, when it must now be alone and another coordinator serves the namespace.
   */
  async setExclusive(exclusive: boolean): Promise<void> {
    if (exclusive === this.#exclusive) return;
    const result = await this.#presence.change(exclusive);
    if (result.conflict) {
      const other = result.others[0];
      throw new RateSyncError(
        `Another rate-sync coordinator (${other === undefined ? 'unknown' : `pid ${other.pid} on ${other.host}`}) serves the bridge ` +
          `list "${this.keys.requests}", and with this configuration some limiter lives in this process's memory, so this ` +
          'coordinator would have to serve the list alone. Put those limiters on a redis store, or stop the other coordinator first.',
        { namespace: this.#options.namespace, others: result.others },
      );
    }
    this.#exclusive = exclusive;
    this.#others = result.others;
    this.#log('bridge_exclusive', { exclusive });
  }

  stats(): BridgeStats {
    return { ...this.#stats, errors: { ...this.#stats.errors }, sessions: this.#clients.size };
  }

  /** Stops reading requests. Replies still go out until close(). */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#blocking.disconnect();
    await this.#loop;
  }

  /** Stops, leaves the presence hash and closes the connections (after pending replies are written). */
  async close(): Promise<void> {
    await this.stop();
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    try {
      await this.#presence.leave();
      await this.#command.quit();
    } catch {
      this.#command.disconnect();
    }
  }

  #every(ms: number, fn: () => Promise<void> | void): void {
    const timer = setInterval(() => void Promise.resolve(fn()).catch(() => undefined), ms);
    timer.unref();
    this.#timers.push(timer);
  }

  async #beat(): Promise<void> {
    const result = await this.#presence.beat();
    this.#others = result.others;
    if (result.conflict) {
      this.#stats.conflicts++;
      this.#log('bridge_conflict', { list: this.keys.requests, others: result.others });
    }
  }

  async #maintain(): Promise<void> {
    const now = this.#coordinator.clock.now();
    const idleMs = this.#options.sessionIdleMs ?? 60_000;
    for (const [id, c] of this.#clients) {
      const peer = c.session.peer;
      if (peer.waiters.size === 0 && peer.leases.size === 0 && c.channels.size === 0 && now - c.lastSeen > idleMs) {
        c.session.close();
        this.#clients.delete(id);
      }
    }
    const ttl = this.#options.replyTtlMs ?? 30_000;
    for (const [channel, at] of this.#expiresSet) if (now - at > ttl) this.#expiresSet.delete(channel);
    await this.#clock.sync();
  }

  async #popLoop(): Promise<void> {
    const own = this.keys.coordinator(this.id);
    const batch = this.#options.batchSize ?? 256;
    // Redis 7's BLMPOP takes a whole batch in one command; older servers pop one, then the rest.
    const version = Number(/redis_version:(\d+)/.exec(await this.#command.info('server').catch(() => ''))?.[1] ?? 0);
    const blmpop = (this.#options.popCommand ?? (version >= 7 ? 'BLMPOP' : 'BLPOP')) === 'BLMPOP';
    while (!this.#stopping) {
      try {
        // Own list first: releases and renewals before new requests.
        if (blmpop) {
          const popped = await this.#blocking.blmpop(2, 2, own, this.keys.requests, 'LEFT', 'COUNT', batch);
          for (const raw of popped?.[1] ?? []) this.#handle(raw);
          continue;
        }
        const first = await this.#blocking.blpop(own, this.keys.requests, 2);
        if (first === null) continue;
        this.#handle(first[1]);
        for (let more = true; more && !this.#stopping; ) {
          const [mine, theirs] = await Promise.all([this.#blocking.lpop(own, batch), this.#blocking.lpop(this.keys.requests, batch)]);
          for (const raw of mine ?? []) this.#handle(raw);
          for (const raw of theirs ?? []) this.#handle(raw);
          more = (mine?.length ?? 0) === batch || (theirs?.length ?? 0) === batch;
        }
      } catch (err) {
        if (this.#stopping) break;
        this.#log('bridge_redis_error', { connection: 'blocking', error: (err as Error).message });
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /** One entry from a list. Never throws: the bridge serves everyone else whatever one client sends. */
  #handle(raw: string): void {
    this.#stats.received++;
    try {
      this.#serve(raw);
    } catch (err) {
      this.#log('bridge_error', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  #serve(raw: string): void {
    const parsed = parseEntry(raw);
    if (!parsed.ok) {
      this.#stats.rejected++;
      this.#log('bridge_rejected', { error: parsed.error.message, reply: parsed.reply ?? null });
      if (parsed.reply !== undefined) this.#reject(parsed.reply, parsed.id, parsed.error.toWire());
      return;
    }
    const entry = parsed.entry;
    const client = this.#client(entry.client);
    client.lastSeen = this.#coordinator.clock.now();
    const m = entry.message;
    let askedMs: number | undefined;
    if (m.type === 'acquire' || m.type === 'state' || m.type === 'describe') {
      const ageMs = Math.max(0, this.#clock.nowMs() - entry.atUs / 1000);
      if (entry.ttlMs !== undefined && ageMs > entry.ttlMs) {
        // Its client stopped listening: granting it would consume a permit nobody uses.
        this.#stats.stale++;
        return;
      }
      if (m.type === 'acquire') {
        const timeoutMs = m.timeoutMs === undefined ? this.#defaultTimeoutMs(m.limiter, m.key) : (m.timeoutMs ?? Infinity);
        if (timeoutMs !== undefined && timeoutMs > 0 && timeoutMs !== Infinity) {
          const left = timeoutMs - ageMs;
          if (left <= 0) {
            this.#stats.expired++;
            const id = m.key === undefined ? m.limiter : `${m.limiter}:${m.key}`;
            this.#reject(entry.reply as string, m.id, new RateLimitTimeoutError(id, timeoutMs).toWire());
            return;
          }
          askedMs = timeoutMs;
          m.timeoutMs = left;
        }
      }
    }
    if ('id' in m && m.id !== undefined && entry.reply !== undefined && m.type !== 'cancel') {
      client.channels.set(m.id, askedMs === undefined ? { channel: entry.reply } : { channel: entry.reply, timeoutMs: askedMs });
    }
    this.#current = entry;
    try {
      client.session.receive(m);
    } finally {
      this.#current = undefined;
    }
  }

  /** The wait of a request that names none: the limiter's `timeout` (undefined: let the session report the error). */
  #defaultTimeoutMs(limiter: string, key: string | undefined): number | undefined {
    try {
      const timeout = this.#coordinator.describe(limiter, key).config.timeout;
      return timeout === undefined ? Infinity : timeout * 1000;
    } catch {
      return undefined;
    }
  }

  #client(id: string): BridgeClient {
    let client = this.#clients.get(id);
    if (client === undefined) {
      const channels = new Map<RequestId, Route>();
      const session = new Session(this.#coordinator, (m) => this.#fromCoordinator(channels, m), 'bridge', `bridge client ${id}`);
      client = { session, lastSeen: 0, channels };
      this.#clients.set(id, client);
    }
    return client;
  }

  #fromCoordinator(channels: Map<RequestId, Route>, m: CoordinatorMessage): void {
    let channel: string | undefined;
    if (m.type === 'reply') {
      const route = channels.get(m.id);
      channels.delete(m.id);
      channel = route?.channel;
      if (!m.ok) {
        if (m.error.code === RateLimitTimeoutError.code && route?.timeoutMs !== undefined) {
          // The coordinator waited what was left; the client asked for the whole timeout.
          m = { ...m, error: new RateLimitTimeoutError(String(m.error.details?.['limiterId']), route.timeoutMs).toWire() };
        }
        this.#count(m.error);
      }
    } else if (m.type === 'error') {
      channel = this.#current?.reply;
      this.#count(m.error);
    }
    if (channel !== undefined) this.#push(channel, encodeReply(m, this.id));
  }

  #reject(channel: string, id: RequestId | undefined, error: WireError): void {
    this.#count(error);
    const m: CoordinatorMessage = id === undefined ? { v: 1, type: 'error', error } : { v: 1, type: 'reply', id, ok: false, error };
    this.#push(channel, encodeReply(m, this.id));
  }

  #count(error: WireError): void {
    this.#stats.errors[error.code] = (this.#stats.errors[error.code] ?? 0) + 1;
  }

  #push(channel: string, json: string): void {
    this.#stats.replies++;
    const key = this.keys.reply(channel);
    const failed = (err: Error): void => this.#log('bridge_reply_failed', { channel, error: err.message });
    this.#command.rpush(key, json).catch(failed);
    // The expiry only matters once a client is gone: refreshing it every third of its length is enough.
    const ttl = this.#options.replyTtlMs ?? 30_000;
    const now = this.#coordinator.clock.now();
    if (now - (this.#expiresSet.get(channel) ?? -Infinity) > ttl / 3) {
      this.#expiresSet.set(channel, now);
      this.#command.pexpire(key, ttl).catch(failed);
    }
  }
}

function hideSecret(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
