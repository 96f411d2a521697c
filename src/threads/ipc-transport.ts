/**
 * Forks ↔ the process that forked them, over the IPC channel of `child_process.fork` and
 * `cluster.fork`. One channel carries any number of connections (the fork's own client, and those
 * of the fork's worker threads, which its main thread relays), as frames tagged with a connection
 * number (see frame.ts), next to the application's own messages.
 *
 * A fork must still exit on its own when its work is done. A `message` listener on `process`
 * keeps the channel referenced, and `process.channel.unref()` would override the application's
 * own listeners for good, so the fork's end listens only while one of its connections waits for
 * an answer. The coordinator sends nothing unasked but `close` frames, which a fork that is not
 * listening may miss at no cost: its next request is answered with the same close.
 *
 * The parent's end is attached to every child process when it is created (the `child_process`
 * diagnostics channel), so that even a fork's first message finds a listener; a child that exits,
 * is killed or disconnects closes all its connections at once.
 */
import type { ChildProcess } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { Connection } from './connection.js';
import { FRAME_VERSION, type IpcFrame } from './frame.js';

function parentLabel(): string {
  return `the parent process (pid ${process.ppid})`;
}

/** A fork's end of one connection; all of them share the fork's IPC channel. */
class IpcClientConnection extends Connection {
  readonly #c: number;
  readonly #upstream: IpcUpstream;

  constructor(c: number, upstream: IpcUpstream) {
    super(true);
    this.#c = c;
    this.#upstream = upstream;
  }

  /** @internal */
  deliver(frame: IpcFrame): void {
    if ('close' in frame) this.lost(String(frame.close));
    else this.receive(Array.isArray(frame.m) ? frame.m : [frame.m]);
  }

  /** @internal */
  drop(reason: string): void {
    this.lost(reason);
  }

  protected transmit(batch: unknown[]): void {
    this.#upstream.send({ rateSync: FRAME_VERSION, c: this.#c, m: batch });
  }

  protected transmitClose(reason: string): void {
    this.#upstream.send({ rateSync: FRAME_VERSION, c: this.#c, close: reason });
  }

  protected detach(): void {
    this.#upstream.forget(this.#c);
  }

  protected keepAlive(on: boolean): void {
    this.#upstream.listen(on);
  }
}

/** The fork's side of its IPC channel: opens connections towards the parent. One per process. */
export class IpcUpstream {
  static #instance: IpcUpstream | undefined;
  readonly #connections = new Map<number, IpcClientConnection>();
  #seq = 0;
  #waiting = 0;
  #listening = false;
  #unlistenScheduled = false;
  readonly #onMessage = (frame: unknown): void => {
    if (typeof frame !== 'object' || frame === null || (frame as { rateSync?: unknown }).rateSync !== FRAME_VERSION) return;
    this.#connections.get((frame as { c: number }).c)?.deliver(frame as IpcFrame);
  };
  readonly #onDisconnect = (): void => this.#loseAll(`the IPC channel to ${parentLabel()} closed`);

  static get(): IpcUpstream {
    IpcUpstream.#instance ??= new IpcUpstream();
    return IpcUpstream.#instance;
  }

  open(): Connection {
    const connection = new IpcClientConnection(++this.#seq, this);
    this.#connections.set(this.#seq, connection);
    return connection;
  }

  /** @internal */
  send(frame: IpcFrame): void {
    if (process.send === undefined || !process.connected) {
      queueMicrotask(this.#onDisconnect);
      return;
    }
    // With a callback, a failed write is reported here instead of as an 'error' event that would crash the fork.
    process.send(frame, undefined, undefined, (err) => {
      if (err !== null && err !== undefined) this.#onDisconnect();
    });
  }

  /** @internal */
  forget(c: number): void {
    this.#connections.delete(c);
  }

  /** @internal One connection starts (true) or stops (false) waiting for answers. */
  listen(on: boolean): void {
    this.#waiting += on ? 1 : -1;
    if (this.#waiting > 0 && !this.#listening) {
      this.#listening = true;
      process.on('message', this.#onMessage);
      process.on('disconnect', this.#onDisconnect);
    } else if (this.#waiting === 0 && this.#listening && !this.#unlistenScheduled) {
      // A client taking permits one after the other would otherwise add and remove listeners each time.
      this.#unlistenScheduled = true;
      setImmediate(() => {
        this.#unlistenScheduled = false;
        if (this.#waiting > 0 || !this.#listening) return;
        this.#listening = false;
        process.off('message', this.#onMessage);
        process.off('disconnect', this.#onDisconnect);
      });
    }
  }

  #loseAll(reason: string): void {
    for (const connection of [...this.#connections.values()]) connection.drop(reason);
  }
}

/** The parent's end of one of a child's connections. */
class IpcHostConnection extends Connection {
  readonly #child: ChildProcess;
  readonly #c: number;
  readonly #forget: () => void;

  constructor(child: ChildProcess, c: number, forget: () => void) {
    super(false);
    this.#child = child;
    this.#c = c;
    this.#forget = forget;
  }

  /** @internal */
  deliver(frame: IpcFrame): void {
    if ('close' in frame) this.lost(`pid ${this.#child.pid} closed its connection ${this.#c} (${String(frame.close)})`);
    else this.receive(Array.isArray(frame.m) ? frame.m : [frame.m]);
  }

  /** @internal */
  drop(reason: string): void {
    this.lost(reason);
  }

  protected transmit(batch: unknown[]): void {
    this.#write({ rateSync: FRAME_VERSION, c: this.#c, m: batch });
  }

  protected transmitClose(reason: string): void {
    this.#write({ rateSync: FRAME_VERSION, c: this.#c, close: reason });
  }

  protected detach(): void {
    this.#forget();
  }

  protected keepAlive(): void {
    // The fork keeps itself alive while it waits; the parent waits for its children anyway.
  }

  #write(frame: IpcFrame): void {
    if (!this.#child.connected) return;
    this.#child.send(frame, undefined, undefined, () => undefined);
  }
}

export type Accept = (connection: Connection, label: string) => void;

/** Serves the connections of one child process. */
function watchChild(child: ChildProcess, accept: Accept): void {
  const connections = new Map<number, IpcHostConnection>();
  child.on('message', (frame: unknown) => {
    if (typeof frame !== 'object' || frame === null || (frame as { rateSync?: unknown }).rateSync !== FRAME_VERSION) return;
    const c = (frame as { c?: unknown }).c;
    // A frame without a usable connection number cannot be answered; the fork's client never sends one.
    if (typeof c !== 'number' || !Number.isSafeInteger(c)) return;
    let connection = connections.get(c);
    if (connection === undefined) {
      if ('close' in frame) return;
      connection = new IpcHostConnection(child, c, () => connections.delete(c));
      connections.set(c, connection);
      accept(connection, `pid ${child.pid} connection ${c}`);
    }
    connection.deliver(frame as IpcFrame);
  });
  const gone = (why: string): void => {
    for (const connection of [...connections.values()]) connection.drop(why);
  };
  child.once('disconnect', () => gone(`the IPC channel to pid ${child.pid} closed`));
  child.once('exit', (code, signal) => gone(`pid ${child.pid} exited (${signal ?? `code ${code}`})`));
}

/**
 * Accepts connections from every child process created from now on (cluster workers included).
 * Call once per process.
 */
export function listenForForks(accept: Accept): void {
  subscribe('child_process', (message) => {
    const child = (message as { process?: ChildProcess }).process;
    if (child !== undefined) watchChild(child, accept);
  });
}
