/**
 * Separate coordinator processes ("hosts") on one Redis, for multi-host tests: each runs
 * test/fixtures/redis-host.ts, driven over IPC, and does its work in cluster forks of its own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { LimiterOptions } from '../../src/index.js';
import type { LimiterMetrics } from '../../src/coordinator/stats.js';

const FIXTURE = new URL('../fixtures/redis-host.ts', import.meta.url);

export interface HostSetup {
  url: string;
  keyPrefix: string;
  cluster?: boolean;
  limiter: LimiterOptions;
  /** Cluster forks of the host that do the calls. @default 0 */
  forks?: number;
  /** Concurrent callers in each fork. @default 1 */
  inflight?: number;
}

export interface SaturateResult {
  /** Grant instants of each fork (epoch ms). */
  grants: number[][];
  /** The host's counters of the limiter (its forks' calls included). */
  metrics: LimiterMetrics;
}

export class Host {
  readonly child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.child = child;
  }

  /** Forks a host, sets it up, and resolves once it and its forks are connected. */
  static async start(setup: HostSetup): Promise<Host> {
    // A host is a primary of its own: without the marker of a rate-sync parent (see
    // docs/threads-and-forks.md), its IPC channel to the test does not make it a client.
    const { RATE_SYNC_PARENT_PID: _parent, ...env } = process.env;
    const child = fork(FIXTURE, [], { env, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const host = new Host(child);
    try {
      await host.#ask({ type: 'setup', forks: 0, inflight: 1, ...setup }, 'ready');
    } catch (err) {
      host.kill();
      throw err;
    }
    return host;
  }

  /** Every fork of the host acquires back to back until the epoch instant `endAt`. */
  saturate(endAt: number): Promise<SaturateResult> {
    return this.#ask({ type: 'saturate', endAt }, 'done') as Promise<unknown> as Promise<SaturateResult>;
  }

  async hold(): Promise<number> {
    const reply = (await this.#ask({ type: 'hold' }, 'held')) as { grantedAt: number };
    return reply.grantedAt;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send({ type: 'exit' });
    const timer = setTimeout(() => this.kill(), 5000);
    await exited;
    clearTimeout(timer);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  #ask(message: object, answer: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: Record<string, unknown>): void => {
        if (m['type'] === answer) done(() => resolve(m));
        else if (m['type'] === 'error') done(() => reject(new Error(`host ${this.child.pid}: ${String(m['message'])}`)));
      };
      const onExit = (code: number | null, signal: string | null): void =>
        done(() => reject(new Error(`host ${this.child.pid} exited (${code ?? signal}) before answering ${answer}`)));
      const done = (settle: () => void): void => {
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        settle();
      };
      this.child.on('message', onMessage);
      this.child.on('exit', onExit);
      this.child.send(message);
    });
  }
}

/**
 * The largest excess, over all intervals [t_i, t_j] between grants, of the grants in it over
 * `burst + rate·(t_j − t_i)`, in O(n): ≤ 0 means the bound held in every window.
 */
export function worstExcess(stamps: readonly number[], burst: number, ratePerSecond: number): number {
  const sorted = [...stamps].sort((a, b) => a - b);
  const r = ratePerSecond / 1000;
  let best = -Infinity; // max over i ≤ j of (r·t_i − i)
  let worst = -Infinity;
  sorted.forEach((t, j) => {
    best = Math.max(best, r * t - j);
    worst = Math.max(worst, j - r * t + best + 1 - burst);
  });
  return worst;
}

/** Grants in [from, from + ms]. */
export function countIn(stamps: readonly number[], from: number, ms: number): number {
  return stamps.filter((t) => t >= from && t <= from + ms).length;
}
