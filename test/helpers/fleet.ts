/**
 * A fleet of real worker threads and real forks for integration tests. Each member is an agent
 * (test/fixtures/agent.ts) running a scenario (test/fixtures/scenarios.ts) with the public
 * rate-sync API; the test talks to agents over the application's own channels (parentPort,
 * process.send), next to rate-sync's traffic on the same channels.
 */
import { fork, type ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';
import { Worker } from 'node:worker_threads';

export interface AgentSpec {
  readonly name: string;
  readonly scenario: string;
  readonly params?: Record<string, unknown>;
  /** Worker threads the agent starts (in a fork: served through the fork's main thread). */
  readonly threads?: readonly AgentSpec[];
  /** Processes the agent forks (from a fork: served through it). */
  readonly forks?: readonly AgentSpec[];
}

export interface AgentMessage {
  readonly from: string;
  readonly type: string;
  readonly [field: string]: unknown;
}

export const agentEntry = new URL('../fixtures/agent.ts', import.meta.url);
export const tsWorkerEntry = new URL('../../scripts/lib/ts-worker.mjs', import.meta.url);

/** Epoch milliseconds on the clock grants are stamped with (`performance.timeOrigin + now`). */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

export class Fleet {
  readonly #send = new Map<string, (message: unknown) => void>();
  readonly #processes = new Map<string, ChildProcess>();
  readonly #threads = new Set<Worker>();
  readonly #messages: AgentMessage[] = [];
  readonly #wakers = new Set<() => void>();

  /** A worker thread of this process. */
  thread(spec: AgentSpec): Worker {
    const worker = new Worker(tsWorkerEntry, { workerData: { entry: agentEntry.href, agent: spec } });
    worker.on('message', (message: AgentMessage) => this.#receive(message));
    worker.on('error', (error) => this.#receive({ from: spec.name, type: 'failed', error: String(error) }));
    worker.on('exit', (code) => {
      this.#threads.delete(worker);
      this.#receive({ from: spec.name, type: 'exit', code });
    });
    this.#threads.add(worker);
    this.#route(spec, (message) => worker.postMessage(message));
    return worker;
  }

  /** A forked process: `child_process.fork`, or `cluster.fork` with `{ cluster: true }`. */
  fork(spec: AgentSpec, options: { cluster?: boolean } = {}): ChildProcess {
    const env = { ...process.env, RATE_SYNC_TEST_AGENT: JSON.stringify(spec) };
    let child: ChildProcess;
    if (options.cluster === true) {
      cluster.setupPrimary({ exec: agentEntry.pathname, execArgv: process.execArgv });
      child = cluster.fork(env).process;
    } else {
      child = fork(agentEntry.pathname, [], { env, execArgv: process.execArgv });
    }
    child.on('message', (message: AgentMessage) => {
      if (typeof message === 'object' && message !== null && 'from' in message) this.#receive(message);
    });
    child.on('exit', (code, signal) => {
      this.#processes.delete(spec.name);
      this.#receive({ from: spec.name, type: 'exit', code, signal });
    });
    this.#processes.set(spec.name, child);
    this.#route(spec, (message) => child.connected && child.send(message as object));
    return child;
  }

  send(to: string, message: Record<string, unknown>): void {
    const send = this.#send.get(to);
    if (send === undefined) throw new Error(`no agent named ${to}`);
    send({ ...message, to });
  }

  broadcast(names: readonly string[], message: Record<string, unknown>): void {
    for (const name of names) this.send(name, message);
  }

  /** The next message of `type` from `from` (consumed), waiting up to `timeoutMs`. */
  async next(from: string, type: string, timeoutMs = 30_000): Promise<AgentMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const failed = this.#messages.find((m) => m.from === from && m.type === 'failed');
      if (failed !== undefined) throw new Error(`agent ${from} failed: ${String(failed['error'])}`);
      const i = this.#messages.findIndex((m) => m.from === from && m.type === type);
      if (i >= 0) return this.#messages.splice(i, 1)[0] as AgentMessage;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`agent ${from} sent no "${type}" within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        // A test that failed early must not be kept alive by the other waits.
        timer.unref();
        this.#wakers.add(wake);
      });
    }
  }

  /** One message of `type` from each of `names`, in that order. */
  all(names: readonly string[], type: string, timeoutMs?: number): Promise<AgentMessage[]> {
    return Promise.all(names.map((name) => this.next(name, type, timeoutMs)));
  }

  process(name: string): ChildProcess {
    const child = this.#processes.get(name);
    if (child === undefined) throw new Error(`no live process named ${name}`);
    return child;
  }

  /** Stops every thread and process still running. */
  async close(): Promise<void> {
    const exits: Promise<unknown>[] = [];
    for (const worker of this.#threads) exits.push(worker.terminate());
    for (const child of this.#processes.values()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      exits.push(new Promise((resolve) => child.once('exit', resolve)));
      child.kill('SIGKILL');
    }
    await Promise.all(exits);
  }

  #route(spec: AgentSpec, send: (message: unknown) => void): void {
    this.#send.set(spec.name, send);
    for (const child of [...(spec.threads ?? []), ...(spec.forks ?? [])]) this.#route(child, send);
  }

  #receive(message: AgentMessage): void {
    this.#messages.push(message);
    for (const wake of [...this.#wakers]) wake();
  }
}
