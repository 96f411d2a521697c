/**
 * The main thread's side: accepts connections from this process's worker threads and from the
 * processes it forks, and hands each one to the coordinator (in the primary) or relays it to the
 * primary (in a fork, whose threads and children have no channel of their own to the primary).
 *
 * A connection that arrives before the primary has a configuration waits for it: forks and
 * threads may start before the primary loads its config, and get `ready` once it has.
 */
import type { Coordinator } from '../coordinator/coordinator.js';
import type { ClientKind } from '../coordinator/protocol.js';
import { Session } from '../coordinator/session.js';
import { decode, encode } from './codec.js';
import type { Connection } from './connection.js';
import { listenForThreads } from './channel-transport.js';
import { markParent } from './context.js';
import { IpcUpstream, listenForForks } from './ipc-transport.js';

/** What the primary's host serves connections from. */
export interface CoordinatorSource {
  /** Resolves once a configuration is in place. */
  whenConfigured(): Promise<void>;
  readonly coordinator: Coordinator;
}

let started = false;

function startOnce(): boolean {
  if (started) return false;
  started = true;
  markParent();
  return true;
}

/** Serves one connection from `coordinator`: compact forms decoded for the Session, grants encoded. */
export function serveConnection(coordinator: Coordinator, connection: Connection, kind: ClientKind, label: string): Session {
  const session = new Session(coordinator, (message) => connection.send(encode(message)), kind, label);
  connection.onmessages = (batch) => {
    for (const item of batch) session.receive(decode(item));
  };
  connection.onclose = () => session.close();
  return session;
}

/** In the primary's main thread: every thread and fork gets a Session on `source()`'s coordinator. */
export function serveThreadsAndForks(source: () => CoordinatorSource): void {
  if (!startOnce()) return;
  const accept =
    (kind: ClientKind) =>
    (connection: Connection, label: string): void => {
      let early: unknown[][] | undefined = [];
      connection.onmessages = (batch) => early?.push(batch);
      const served = source();
      void served.whenConfigured().then(() => {
        if (connection.closedReason !== undefined) return;
        serveConnection(served.coordinator, connection, kind, label);
        for (const batch of early ?? []) connection.onmessages(batch);
        early = undefined;
      });
    };
  listenForThreads(accept('thread'));
  listenForForks(accept('fork'));
}

/** In a fork's main thread: its threads' and children's connections are relayed to the primary. */
export function relayThreadsAndForks(): void {
  if (!startOnce()) return;
  const upstream = IpcUpstream.get();
  const relay = (down: Connection): void => {
    const up = upstream.open();
    up.onmessages = (batch) => down.sendBatch(batch);
    down.onmessages = (batch) => up.sendBatch(batch);
    up.onclose = (reason) => down.close(reason);
    down.onclose = (reason) => up.close(reason);
  };
  listenForThreads(relay);
  listenForForks(relay);
}
