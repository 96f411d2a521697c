/**
 * Worker threads ↔ their process's main thread, over BroadcastChannels.
 *
 * A thread cannot be handed a MessagePort without a message on `parentPort`, which belongs to the
 * application (piscina reads its startup message there). BroadcastChannels reach every thread of
 * a process without touching it:
 *
 * - the well-known channel `rate-sync:v1:hello` carries connection openings: a client posts
 *   `{ rateSync, open: <name>, threadId, m: [hello] }`; a host that starts listening posts
 *   `{ rateSync, announce: <pid> }`, and clients still waiting for an answer post their opening again;
 * - each connection then has a channel of its own, with a random name, that only its two ends
 *   subscribe to: batches are arrays, and `{ rateSync, close: <reason> }` closes it.
 *
 * The host watches the workers its thread creates (`process.on('worker')`): when one exits, its
 * connections close at once, and the coordinator releases its leases and drops its waiters.
 * A thread it did not create (started by another thread, or before rate-sync was loaded) cannot
 * be watched: its hello is marked `renews`, so its client renews its own leases and a lease it
 * stops renewing — it died — comes back after lease_seconds.
 */
import { randomUUID } from 'node:crypto';
import { BroadcastChannel, threadId, type Worker } from 'node:worker_threads';
import { Connection } from './connection.js';
import { FRAME_VERSION } from './frame.js';

export const HELLO_CHANNEL = 'rate-sync:v1:hello';
const CONNECTION_PREFIX = 'rate-sync:v1:conn:';

interface OpenFrame {
  rateSync: typeof FRAME_VERSION;
  open: string;
  threadId: number;
  m: unknown[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isOpen(value: unknown): value is OpenFrame {
  return (
    isRecord(value) &&
    value['rateSync'] === FRAME_VERSION &&
    typeof value['open'] === 'string' &&
    value['open'].startsWith(CONNECTION_PREFIX) &&
    typeof value['threadId'] === 'number' &&
    Array.isArray(value['m'])
  );
}

function closeReason(value: unknown): string | undefined {
  if (!isRecord(value) || value['rateSync'] !== FRAME_VERSION || !('close' in value)) return undefined;
  return String(value['close']);
}

function closeFrame(reason: string): { rateSync: number; close: string } {
  return { rateSync: FRAME_VERSION, close: reason };
}

/** The hello of a thread whose exit cannot be seen, marked: its client must renew its own leases. */
function renewing(message: unknown): unknown {
  if (!isRecord(message) || message['type'] !== 'hello' || !isRecord(message['client'])) return message;
  return { ...message, client: { ...message['client'], renews: true } };
}

/** A worker thread's end of its connection to the main thread. */
export class ThreadClientConnection extends Connection {
  readonly #name = `${CONNECTION_PREFIX}${threadId}:${randomUUID()}`;
  readonly #channel = new BroadcastChannel(this.#name);
  #hello: BroadcastChannel | undefined;
  #opening: OpenFrame | undefined;
  /** Batches sent after the opening and before the host's first answer. */
  #early: unknown[][] = [];
  #opened = false;
  #alive = false;

  constructor() {
    super(true);
    this.#channel.unref();
    this.#channel.onmessage = (event) => this.#fromHost((event as MessageEvent).data);
  }

  protected transmit(batch: unknown[]): void {
    if (this.#opened) {
      this.#channel.postMessage(batch);
    } else if (this.#opening !== undefined) {
      this.#early.push(batch);
    } else {
      this.#opening = { rateSync: FRAME_VERSION, open: this.#name, threadId, m: batch };
      const hello = new BroadcastChannel(HELLO_CHANNEL);
      if (!this.#alive) hello.unref();
      hello.onmessage = (event) => {
        const data = (event as MessageEvent).data as unknown;
        if (!this.#opened && isRecord(data) && data['rateSync'] === FRAME_VERSION && 'announce' in data) {
          hello.postMessage(this.#opening);
        }
      };
      this.#hello = hello;
      hello.postMessage(this.#opening);
    }
  }

  protected transmitClose(reason: string): void {
    this.#channel.postMessage(closeFrame(reason));
  }

  protected detach(): void {
    this.#channel.close();
    this.#hello?.close();
    this.#hello = undefined;
  }

  protected keepAlive(on: boolean): void {
    this.#alive = on;
    if (on) {
      this.#channel.ref();
      this.#hello?.ref();
    } else {
      this.#channel.unref();
      this.#hello?.unref();
    }
  }

  #fromHost(data: unknown): void {
    if (Array.isArray(data)) {
      if (!this.#opened) {
        this.#opened = true;
        this.#hello?.close();
        this.#hello = undefined;
        for (const batch of this.#early) this.#channel.postMessage(batch);
        this.#early = [];
      }
      this.receive(data);
      return;
    }
    const reason = closeReason(data);
    if (reason !== undefined) this.lost(reason);
  }
}

/** The main thread's end of a worker thread's connection. */
class ThreadHostConnection extends Connection {
  readonly #channel: BroadcastChannel;
  readonly #forget: () => void;

  constructor(name: string, thread: number, forget: () => void) {
    super(false);
    this.#forget = forget;
    this.#channel = new BroadcastChannel(name);
    this.#channel.unref();
    this.#channel.onmessage = (event) => {
      const data = (event as MessageEvent).data as unknown;
      if (Array.isArray(data)) return this.receive(data);
      const reason = closeReason(data);
      if (reason !== undefined) this.lost(`thread ${thread} closed its connection (${reason})`);
      // Anything else is one (bad) message: the coordinator answers it with an error.
      else this.receive([data]);
    };
  }

  /** Delivers the messages that came with the opening. */
  open(batch: unknown[]): void {
    this.receive(batch);
  }

  protected transmit(batch: unknown[]): void {
    this.#channel.postMessage(batch);
  }

  protected transmitClose(reason: string): void {
    this.#channel.postMessage(closeFrame(reason));
  }

  protected detach(): void {
    this.#channel.close();
    this.#forget();
  }

  protected keepAlive(): void {
    // The host never keeps a thread alive: its clients keep themselves alive while they wait.
  }
}

export type Accept = (connection: Connection, label: string) => void;

/**
 * Accepts connections from the worker threads of this process. Call once, in the main thread.
 * `accept` wires each new connection (hand its first batch, the hello, to `open`).
 */
export function listenForThreads(accept: Accept): void {
  const connections = new Map<string, ThreadHostConnection>();
  const byThread = new Map<number, Set<ThreadHostConnection>>();
  const live = new Set<number>();
  const exited = new Set<number>();

  process.on('worker', (worker: Worker) => {
    const id = worker.threadId;
    live.add(id);
    worker.once('exit', (code) => {
      live.delete(id);
      exited.add(id);
      // Only openings still in flight when a thread exits need this: remember the recent ones.
      if (exited.size > 4096) exited.delete(exited.values().next().value as number);
      for (const connection of byThread.get(id) ?? []) connection.close(`thread ${id} exited with code ${code}`);
      byThread.delete(id);
    });
  });

  const hello = new BroadcastChannel(HELLO_CHANNEL);
  hello.unref();
  hello.onmessage = (event) => {
    const frame = (event as MessageEvent).data as unknown;
    if (!isOpen(frame) || connections.has(frame.open) || exited.has(frame.threadId)) return;
    const { open: name, threadId: thread } = frame;
    let mine = byThread.get(thread);
    if (mine === undefined) byThread.set(thread, (mine = new Set()));
    const siblings = mine;
    const connection = new ThreadHostConnection(name, thread, () => {
      connections.delete(name);
      siblings.delete(connection);
      if (siblings.size === 0 && byThread.get(thread) === siblings) byThread.delete(thread);
    });
    connections.set(name, connection);
    siblings.add(connection);
    accept(connection, `thread ${thread} of pid ${process.pid}`);
    connection.open(live.has(thread) ? frame.m : frame.m.map(renewing));
  };
  hello.postMessage({ rateSync: FRAME_VERSION, announce: process.pid });
}
