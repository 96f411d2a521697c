/**
 * A minimal bridge client in Node for the bridge's own tests and benchmarks: it pushes with the
 * Python package's push script (python/ratesync_bridge/push.lua) and reads its reply list,
 * exactly as the Python client does.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { bridgeKeys, type BridgeKeys } from '../../src/celery-bridge/keys.js';

export const PUSH_SCRIPT = readFileSync(new URL('../../python/ratesync_bridge/push.lua', import.meta.url), 'utf8');
const MAX_BYTES = 64 * 1024;

export interface Reply {
  v: 1;
  type: 'reply' | 'error';
  id?: string | number;
  ok?: boolean;
  value?: Record<string, unknown>;
  error?: { code: string; message: string; details?: Record<string, unknown> };
  coordinator: string;
}

export class TestBridgeClient {
  readonly keys: BridgeKeys;
  readonly client = `test-${randomBytes(4).toString('hex')}`;
  readonly channel = `${this.client}.1`;
  readonly #redis: Redis;
  readonly #reader: Redis;
  #seq = 0;

  constructor(url: string, namespace: string) {
    this.keys = bridgeKeys(namespace);
    this.#redis = new Redis(url);
    this.#reader = new Redis(url);
    this.#redis.defineCommand('bridgePush', { numberOfKeys: 1, lua: PUSH_SCRIPT });
  }

  nextId(): string {
    return String(++this.#seq);
  }

  get redis(): Redis {
    return this.#redis;
  }

  /** Pushes a message of this client (client and reply filled in) with the push script. */
  async push(message: Record<string, unknown>, list = this.keys.requests): Promise<void> {
    const full = { v: 1, client: this.client, reply: this.channel, ...message };
    const push = (this.#redis as unknown as { bridgePush: (...args: unknown[]) => Promise<string> }).bridgePush;
    await push.call(this.#redis, list, JSON.stringify(full), MAX_BYTES, list === this.keys.requests ? 0 : 60_000);
  }

  /** Redis time now, epoch microseconds. */
  async redisTimeUs(): Promise<number> {
    const [s, us] = await this.#redis.time();
    return Number(s) * 1e6 + Number(us);
  }

  /** The next message on this client's reply list, or null after `timeoutS`. */
  async next(timeoutS = 5): Promise<Reply | null> {
    const item = await this.#reader.blpop(this.keys.reply(this.channel), timeoutS);
    return item === null ? null : (JSON.parse(item[1]) as Reply);
  }

  /** Pushes a request and returns its reply (other replies are skipped). */
  async call(message: Record<string, unknown>, timeoutS = 5): Promise<Reply> {
    const id = (message['id'] as string | undefined) ?? this.nextId();
    await this.push({ ...message, id });
    const end = Date.now() + timeoutS * 1000;
    for (;;) {
      const left = (end - Date.now()) / 1000;
      if (left <= 0) throw new Error(`no reply to ${JSON.stringify(message)} within ${timeoutS} s`);
      const reply = await this.next(Math.max(0.01, left));
      if (reply?.id === id) return reply;
    }
  }

  close(): void {
    this.#redis.disconnect();
    this.#reader.disconnect();
  }
}
