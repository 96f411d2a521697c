/**
 * The client stub against a real coordinator, over an in-memory connection whose delivery the test
 * controls: handshake, batching, cancellation races, timeouts and lost connections, deterministically.
 * (The real transports are exercised with real threads and forks in test/integration/threads-*.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RateSyncConfig } from '../../src/config/types.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { CoordinatorUnavailableError } from '../../src/errors.js';
import { Limiter } from '../../src/client/limiter.js';
import { Connection } from '../../src/threads/connection.js';
import { serveConnection } from '../../src/threads/host.js';
import { RemoteLink } from '../../src/threads/remote-link.js';
import { FakeClock, flushPromises } from '../../src/testing.js';

/** One end of an in-memory connection; the other end is `peer`. */
class Loop extends Connection {
  peer!: Loop;
  /** Batches this end sent, in order. */
  readonly sent: unknown[][] = [];
  /** While set, batches for this end are held here instead of delivered. */
  held: unknown[][] | undefined;
  alive = false;
  #handle: NodeJS.Timeout | undefined;

  constructor(isClient: boolean) {
    super(isClient);
  }

  static pair(): [client: Loop, server: Loop] {
    const client = new Loop(true);
    const server = new Loop(false);
    client.peer = server;
    server.peer = client;
    return [client, server];
  }

  /** Delivers what was held. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const batch of held) this.receive(batch);
  }

  protected transmit(batch: unknown[]): void {
    this.sent.push(batch);
    const peer = this.peer;
    if (peer.held !== undefined) peer.held.push(batch);
    else queueMicrotask(() => peer.receive(batch));
  }

  protected transmitClose(reason: string): void {
    const peer = this.peer;
    queueMicrotask(() => peer.lost(reason));
  }

  protected detach(): void {}

  /** Like a real transport's handle: referenced while the client waits. */
  protected keepAlive(on: boolean): void {
    this.alive = on;
    clearInterval(this.#handle);
    this.#handle = on ? setInterval(() => undefined, 60_000) : undefined;
  }
}

function config(): RateSyncConfig {
  return {
    source: 'test',
    stores: new Map([['memory', { id: 'memory', engine: 'memory' }]]),
    limiters: new Map([
      ['slot', { id: 'slot', store: 'memory', algorithm: 'token_bucket', maxConcurrent: 1, failClosed: false, leaseSeconds: 60 }],
      ['open', { id: 'open', store: 'memory', algorithm: 'token_bucket', ratePerSecond: 1e9, burst: 1000, failClosed: false, leaseSeconds: 60 }],
    ]),
  };
}

/** A coordinator serving every connection the link opens (once `serve()` is called, if `late`). */
function setup(options: { late?: boolean; connectTimeoutMs?: number } = {}) {
  const coordinator = new Coordinator(config(), { clock: new FakeClock() });
  const connections: [Loop, Loop][] = [];
  let serving = options.late !== true;
  const attach = (server: Loop): void => void serveConnection(coordinator, server, 'thread', 'test thread');
  const link = new RemoteLink({
    kind: 'thread',
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    connect: () => {
      const pair = Loop.pair();
      connections.push(pair);
      if (serving) attach(pair[1]);
      else pair[1].held = [];
      return pair[0];
    },
  });
  return {
    coordinator,
    link,
    connections,
    serve: () => {
      serving = true;
      for (const [, server] of connections) {
        attach(server);
        server.release();
      }
    },
  };
}

test('calls made before the coordinator is ready wait, then leave together in one batch', async () => {
  const s = setup({ late: true });
  const first = s.link.describe('open');
  await flushPromises();
  const [client, server] = s.connections[0] as [Loop, Loop];
  const grants = Array.from({ length: 64 }, () => s.link.acquire({ limiter: 'open', cost: 1 }));
  await flushPromises();
  assert.equal(client.sent.length, 1, 'only the hello left');
  s.serve();
  assert.equal((await first).id, 'open');
  assert.equal((await Promise.all(grants)).length, 64);
  assert.equal(client.sent.length, 2, 'the 65 waiting requests left as one batch');
  assert.equal(client.sent[1]?.length, 65);
  assert.equal(server.sent.length, 2, 'ready, then all the answers in one batch');
});

test('a client keeps its thread alive exactly while it waits for answers', async () => {
  const s = setup();
  const limiter = new Limiter(s.link, await s.link.describe('slot'));
  const [client] = s.connections[0] as [Loop, Loop];
  assert.equal(client.alive, false);
  const permit = await limiter.acquire();
  assert.equal(client.alive, false, 'nothing pending once granted');
  const waiting = limiter.acquire();
  await flushPromises();
  assert.equal(client.alive, true, 'waiting for a grant');
  permit.release();
  (await waiting).release();
  assert.equal(client.alive, false);
});

test('a grant that crosses the abort on its way is released as soon as it arrives', async () => {
  const s = setup();
  const limiter = new Limiter(s.link, await s.link.describe('slot'));
  const [client] = s.connections[0] as [Loop, Loop];
  const blocker = await limiter.acquire();
  const controller = new AbortController();
  const waiting = limiter.acquire({ signal: controller.signal });
  await flushPromises();
  assert.equal(s.coordinator.metrics('slot').waiting, 1);
  client.held = [];
  blocker.release();
  await flushPromises();
  assert.equal(s.coordinator.metrics('slot').inFlight, 1, 'the coordinator granted the waiter; the answer is on its way');
  controller.abort(new Error('changed my mind'));
  await assert.rejects(waiting, /changed my mind/);
  await flushPromises();
  assert.equal(s.coordinator.metrics('slot').inFlight, 1, 'the cancel came too late');
  client.release();
  await flushPromises();
  assert.equal(s.coordinator.metrics('slot').inFlight, 0, 'the late grant was returned');
  assert.ok(await limiter.tryAcquire({ timeoutMs: 0 }), 'and the slot is free');
});

test('an abort before the grant withdraws the waiter at the coordinator', async () => {
  const s = setup();
  const limiter = new Limiter(s.link, await s.link.describe('slot'));
  const blocker = await limiter.acquire();
  const controller = new AbortController();
  const waiting = limiter.acquire({ signal: controller.signal });
  await flushPromises();
  controller.abort();
  await assert.rejects(waiting, { name: 'AbortError' });
  await flushPromises();
  const m = s.coordinator.metrics('slot');
  assert.equal(m.waiting, 0);
  assert.equal(m.cancellations, 1);
  blocker.release();
  await flushPromises();
  assert.equal(s.coordinator.metrics('slot').inFlight, 0);
});

test('no answer to hello: CoordinatorUnavailableError that says what to do; the next call tries again', async () => {
  const s = setup({ late: true, connectTimeoutMs: 50 });
  const started = performance.now();
  await assert.rejects(s.link.describe('open'), (err: unknown) => {
    assert.ok(err instanceof CoordinatorUnavailableError);
    assert.match(err.message, /no coordinator answered worker thread \d+ of pid \d+ within 50 ms/);
    assert.match(err.message, /Start the coordinator in the primary/);
    return true;
  });
  assert.ok(performance.now() - started >= 45);
  assert.equal((s.connections[0] as [Loop, Loop])[0].closedReason, 'no answer to hello');
  s.serve();
  assert.equal((await s.link.describe('open')).id, 'open');
  assert.equal(s.connections.length, 2, 'a new connection');
});

test('a lost connection fails what is pending and everything after, at once', async () => {
  const s = setup();
  const limiter = new Limiter(s.link, await s.link.describe('slot'));
  const held = await limiter.acquire();
  const waiting = limiter.acquire();
  await flushPromises();
  const [, server] = s.connections[0] as [Loop, Loop];
  server.close('the coordinator was shut down');
  await assert.rejects(waiting, { code: 'ERR_COORDINATOR_UNAVAILABLE', message: /the coordinator was shut down/ });
  await assert.rejects(limiter.acquire(), { code: 'ERR_COORDINATOR_UNAVAILABLE' });
  await assert.rejects(s.link.describe('slot'), { code: 'ERR_COORDINATOR_UNAVAILABLE' });
  assert.equal(s.coordinator.metrics('slot').inFlight, 0, 'the session closed: its lease is back');
  held.release();
});

test('close() from the client releases its leases and drops its waiters at the coordinator', async () => {
  const s = setup();
  const limiter = new Limiter(s.link, await s.link.describe('slot'));
  await limiter.acquire();
  const waiting = limiter.acquire();
  await flushPromises();
  assert.equal(s.coordinator.metrics('slot').waiting, 1);
  s.link.close();
  await assert.rejects(waiting, { code: 'ERR_COORDINATOR_UNAVAILABLE', message: /this client was shut down/ });
  await flushPromises();
  assert.deepEqual([s.coordinator.metrics('slot').inFlight, s.coordinator.metrics('slot').waiting], [0, 0]);
});
