/**
 * One end of a connection between a client and the coordinator (or a relay towards it), whatever
 * carries it: a BroadcastChannel between two threads, or a fork's IPC channel. Subclasses move
 * batches; this base class gives every transport the same lifecycle and the same batching:
 *
 * - everything sent during one turn of the event loop leaves as one batch, so a client with 64
 *   requests in flight pays for one message, not 64, in each direction;
 * - `close()` is idempotent, flushes what was sent before it, tells the peer, and fires `onclose`
 *   once, whichever side or failure closed it first;
 * - a client end counts the answers it waits for and keeps its thread or process alive exactly
 *   while that count is above zero, so a worker or fork that uses rate-sync still exits on its own.
 */
import { expectsAnswer, isAnswer } from './frame.js';

const ignore = (): void => undefined;

export abstract class Connection {
  /** Receives each batch the peer sent, in order. */
  onmessages: (batch: unknown[]) => void = ignore;
  /** Called once when the connection closes, for whatever reason. */
  onclose: (reason: string) => void = ignore;
  #out: unknown[] = [];
  #scheduled = false;
  #closed: string | undefined;
  #awaiting = 0;
  readonly #isClient: boolean;
  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#out.length === 0 || this.#closed !== undefined) return;
    const batch = this.#out;
    this.#out = [];
    this.transmit(batch);
  };

  /** @param isClient a client end: keeps its thread alive while it waits for answers. */
  protected constructor(isClient: boolean) {
    this.#isClient = isClient;
  }

  /** Why it closed; undefined while open. */
  get closedReason(): string | undefined {
    return this.#closed;
  }

  /** Queues a message; the batch leaves at the end of this turn of the event loop. */
  send(message: unknown): void {
    if (this.#closed !== undefined) return;
    if (this.#isClient && expectsAnswer(message) && ++this.#awaiting === 1) this.keepAlive(true);
    this.#out.push(message);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  /** Forwards a batch received from elsewhere (relays). */
  sendBatch(batch: readonly unknown[]): void {
    for (const message of batch) this.send(message);
  }

  /** Closes this end: what was sent is flushed, the peer is told, `onclose` fires. */
  close(reason: string): void {
    if (this.#closed !== undefined) return;
    this.#flush();
    this.transmitClose(reason);
    this.#finish(reason);
  }

  /** A batch arrived from the peer (this end owns the array). */
  protected receive(batch: unknown[]): void {
    if (this.#closed !== undefined) return;
    if (this.#isClient && this.#awaiting > 0) {
      let answers = 0;
      for (const message of batch) if (isAnswer(message)) answers++;
      if (answers > 0) {
        this.#awaiting = Math.max(0, this.#awaiting - answers);
        if (this.#awaiting === 0) this.keepAlive(false);
      }
    }
    this.onmessages(batch);
  }

  /** The peer closed the connection, or the transport under it is gone. */
  protected lost(reason: string): void {
    if (this.#closed !== undefined) return;
    this.#finish(reason);
  }

  #finish(reason: string): void {
    this.#closed = reason;
    this.#out = [];
    if (this.#awaiting > 0) {
      this.#awaiting = 0;
      this.keepAlive(false);
    }
    this.detach();
    this.onclose(reason);
  }

  /** Sends one batch to the peer. */
  protected abstract transmit(batch: unknown[]): void;
  /** Tells the peer this end is closed (when the transport can still carry it). */
  protected abstract transmitClose(reason: string): void;
  /** Frees what the transport holds for this connection. */
  protected abstract detach(): void;
  /** Keeps the thread (or process) alive while on: a client waiting for answers. */
  protected abstract keepAlive(on: boolean): void;
}
