/**
 * One client connection as the coordinator sees it, whatever carries it (MessagePort, cluster
 * IPC, Redis lists): raw messages in, protocol replies out. Everything from outside the process
 * is checked here; a bad message gets an error reply and the coordinator keeps serving.
 */
import { errorToWire, RateSyncError, type WireError } from '../errors.js';
import { VERSION } from '../version.js';
import type { LimiterOverrides } from '../config/types.js';
import type { Coordinator, Peer } from './coordinator.js';
import {
  errorReply,
  okReply,
  parseClientMessage,
  PROTOCOL_VERSION,
  type ClientKind,
  type ClientMessage,
  type CoordinatorMessage,
  type RequestId,
} from './protocol.js';

export type Send = (message: CoordinatorMessage) => void;

export class Session {
  readonly #coordinator: Coordinator;
  readonly #send: Send;
  readonly #peer: Peer;
  /** Bad messages received, for metrics and for the tests. */
  rejected = 0;

  constructor(coordinator: Coordinator, send: Send, kind: ClientKind, label: string) {
    this.#coordinator = coordinator;
    this.#send = send;
    this.#peer = coordinator.connect(kind, label);
  }

  get peer(): Peer {
    return this.#peer;
  }

  /** Handles one message from the client. Never throws. */
  receive(raw: unknown): void {
    const parsed = parseClientMessage(raw);
    if (!parsed.ok) {
      this.rejected++;
      this.#fail(parsed.id, parsed.error.toWire());
      return;
    }
    try {
      this.#dispatch(parsed.message);
    } catch (err) {
      this.#fail('id' in parsed.message ? parsed.message.id : undefined, errorToWire(err));
    }
  }

  /** The client is gone: its waiters leave and its leases are released. */
  close(): void {
    this.#coordinator.disconnect(this.#peer);
  }

  #dispatch(m: ClientMessage): void {
    const c = this.#coordinator;
    switch (m.type) {
      case 'hello':
        this.#peer.hello = m.client;
        // A client that renews for itself says so first: the coordinator then stops renewing its leases.
        if (m.client.renews === true && this.#peer.leases.size === 0) this.#peer.renewsForItself = true;
        this.#send({
          v: PROTOCOL_VERSION,
          type: 'ready',
          coordinator: { pid: process.pid, version: VERSION },
          ...(this.#peer.renewsForItself ? { renews: true as const } : {}),
        });
        return;
      case 'acquire':
        c.acquire(
          this.#peer,
          m.id,
          {
            limiter: m.limiter,
            key: m.key,
            cost: m.cost,
            timeoutMs: m.timeoutMs === null ? Infinity : m.timeoutMs,
          },
          (error, grant) => {
            if (this.#peer.closed) return;
            this.#send(error === null ? okReply(m.id, grant) : errorReply(m.id, error instanceof RateSyncError ? error.toWire() : error));
          },
        );
        return;
      case 'cancel':
        c.cancel(this.#peer, m.id);
        return;
      case 'release':
        c.release(m.lease);
        return;
      case 'renew': {
        const id = m.id;
        c.renew(this.#peer, m.leases).then(
          (lost) => id !== undefined && this.#send(okReply(id, { lost })),
          (err: unknown) => this.#fail(id, errorToWire(err)),
        );
        return;
      }
      case 'state':
        c.state(m.limiter, m.key).then(
          (state) => this.#send(okReply(m.id, state)),
          (err: unknown) => this.#fail(m.id, errorToWire(err)),
        );
        return;
      case 'describe':
        this.#send(okReply(m.id, c.describe(m.limiter, m.key)));
        return;
      case 'metrics':
        this.#send(okReply(m.id, c.metrics(m.limiter, m.key)));
        return;
      case 'clone':
        // applyOverrides validates every override name and value.
        this.#send(okReply(m.id, c.clone(m.source, m.newId, m.overrides as LimiterOverrides)));
        return;
    }
  }

  #fail(id: RequestId | undefined, error: WireError): void {
    if (this.#peer.closed) return;
    this.#send(id === undefined ? { v: PROTOCOL_VERSION, type: 'error', error } : errorReply(id, error));
  }
}
