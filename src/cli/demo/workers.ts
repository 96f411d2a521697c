/**
 * The primary's side of the demo's workers: a piscina pool and cluster forks, each a `Runner`
 * that takes jobs up to its capacity. None of them is given a limiter: they reach the primary's
 * coordinator on their own, because the primary loaded rate-sync before starting them.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { isRateSyncMessage } from '../../index.js';
import { isDemoMessage, type DemoMessage, type Job, type Outcome } from './job.js';

export interface Runner {
  readonly label: string;
  /** Jobs it may have in flight. */
  readonly capacity: number;
  active: number;
  run(job: Job): Promise<Outcome>;
  close(): Promise<void>;
}

export function startPool(threads: number, perThread: number): Runner {
  const pool = new Piscina<Job, Outcome>({
    filename: new URL('./task.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: perThread,
  });
  return {
    label: `piscina pool (${threads} threads)`,
    capacity: threads * perThread,
    active: 0,
    run: (job) => pool.run(job),
    close: () => pool.destroy(),
  };
}

function forkRunner(worker: Worker, capacity: number): Runner {
  const pending = new Map<number, { resolve: (o: Outcome) => void; reject: (e: Error) => void }>();
  const fail = (error: Error): void => {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  worker.on('message', (message: unknown) => {
    if (isRateSyncMessage(message) || !isDemoMessage(message)) return;
    if (message.demo === 'outcome') {
      pending.get(message.outcome.n)?.resolve(message.outcome);
      pending.delete(message.outcome.n);
    } else if (message.demo === 'failed') {
      pending.get(message.n)?.reject(new Error(`job ${message.n} failed in cluster fork ${worker.process.pid}: ${message.error}`));
      pending.delete(message.n);
    }
  });
  let closing = false;
  worker.on('exit', (code, signal) => {
    if (!closing) fail(new Error(`cluster fork ${worker.process.pid} exited (${signal ?? `code ${code}`})`));
  });
  return {
    label: `cluster fork ${worker.process.pid}`,
    capacity,
    active: 0,
    run: (job) =>
      new Promise((resolve, reject) => {
        pending.set(job.n, { resolve, reject });
        worker.send({ demo: 'job', job } satisfies DemoMessage);
      }),
    close: () =>
      new Promise((resolve) => {
        closing = true;
        if (worker.isDead()) return resolve();
        worker.once('exit', () => resolve());
        worker.send({ demo: 'stop' } satisfies DemoMessage);
      }),
  };
}

/** Forks `count` cluster workers running fork.js; resolves once each is listening for jobs. */
export function startForks(count: number, perFork: number): Promise<Runner[]> {
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./fork.js', import.meta.url)), args: [], silent: false });
  return Promise.all(
    Array.from({ length: count }, () => {
      const worker = cluster.fork();
      return new Promise<Runner>((resolve, reject) => {
        const onMessage = (message: unknown): void => {
          if (!isDemoMessage(message) || message.demo !== 'ready') return;
          worker.off('message', onMessage);
          worker.off('exit', onExit);
          resolve(forkRunner(worker, perFork));
        };
        const onExit = (code: number): void => reject(new Error(`cluster fork ${worker.process.pid} exited with code ${code} before it was ready`));
        worker.on('message', onMessage);
        worker.on('exit', onExit);
      });
    }),
  );
}

/** Runs jobs on the least busy runner; a job comes back through `onOutcome`, which may requeue it. */
export class Dispatcher {
  readonly #runners: Runner[];
  readonly #queue: Job[] = [];
  #head = 0;
  readonly #onOutcome: (outcome: Outcome) => void;
  readonly #onError: (error: unknown) => void;

  constructor(runners: Runner[], onOutcome: (outcome: Outcome) => void, onError: (error: unknown) => void) {
    this.#runners = runners;
    this.#onOutcome = onOutcome;
    this.#onError = onError;
  }

  add(job: Job): void {
    this.#queue.push(job);
    this.#pump();
  }

  #pump(): void {
    while (this.#head < this.#queue.length) {
      let runner: Runner | undefined;
      for (const r of this.#runners) {
        if (r.active < r.capacity && (runner === undefined || r.active / r.capacity < runner.active / runner.capacity)) runner = r;
      }
      if (runner === undefined) return;
      const job = this.#queue[this.#head++] as Job;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      const chosen = runner;
      chosen.active++;
      chosen.run(job).then(
        (outcome) => {
          chosen.active--;
          this.#onOutcome(outcome);
          this.#pump();
        },
        (err: unknown) => this.#onError(err),
      );
    }
  }
}
