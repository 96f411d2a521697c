/**
 * `ratesync demo`: a batch pipeline on the embedded memory store. A piscina pool and cluster forks
 * process a few thousand jobs against simulated GitHub, Stripe and OpenAI APIs, limited by the
 * quotas of `examples/rate-sync.toml` with time running ×speed, so an hour of quota passes in
 * seconds. Every thread and fork takes its permits from this process's coordinator.
 *
 * Each simulated API checks its own quota (api.ts), so the report shows both sides: what the
 * limiters granted, made wait and refused, and whether any API saw a request over its quota.
 */
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LimiterConfig, LimiterOptions } from '../../config/types.js';
import type { LimiterMetrics } from '../../coordinator/stats.js';
import { configureLimiter, getLimiter, getOrCloneLimiter, loadConfig, shutdown } from '../../index.js';
import { SimulatedApi } from './api.js';
import { APIS, plannedCalls, type ApiName, type Outcome } from './job.js';
import { createProgress, type LaneView } from './progress.js';
import { buildLanes, describeQuota, renderTerminal, summaryLines, type DemoReport } from './report.js';
import { writeHtmlReport } from './html.js';
import { Dispatcher, startForks, startPool, type Runner } from './workers.js';

export interface DemoOptions {
  config?: string;
  /** Time runs this many times faster than real time. */
  speed: number;
  jobs: number;
  threads: number;
  forks: number;
  /** Where to write the HTML report; false: none. */
  report: string | false;
  out: (line: string) => void;
  /** Where the live progress goes: bars when it is a TTY, else plain lines through `out`. */
  stream: NodeJS.WriteStream;
}

export const DEFAULT_DEMO_CONFIG = fileURLToPath(new URL('../../../examples/rate-sync.toml', import.meta.url));

const PATTERNS: Record<ApiName, string> = {
  stripe_api: 'multi-service, requeue',
  github_api: 'requeue on timeout',
  openai_api: 'skip on timeout',
};

/** Jobs each thread and each fork has in flight at most. */
const PER_WORKER = 64;

/** The limiter of the file with time running ×speed; a limiter without `timeout` gets 60 s. */
function scaled(real: LimiterConfig, speed: number): LimiterOptions {
  const options: LimiterOptions = {
    store: real.store,
    algorithm: real.algorithm,
    timeout: (real.timeout ?? 60) / speed,
    failClosed: real.failClosed,
    leaseSeconds: real.leaseSeconds / speed,
  };
  if (real.ratePerSecond !== undefined) options.ratePerSecond = real.ratePerSecond * speed;
  if (real.burst !== undefined) options.burst = real.burst;
  if (real.limit !== undefined) options.limit = real.limit;
  if (real.windowSeconds !== undefined) options.windowSeconds = real.windowSeconds / speed;
  if (real.maxConcurrent !== undefined) options.maxConcurrent = real.maxConcurrent;
  return options;
}

function simulated(ms: number, speed: number): string {
  const minutes = (ms * speed) / 60_000;
  return minutes < 60 ? `${minutes.toFixed(1)} min` : `${(minutes / 60).toFixed(2)} h`;
}

export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const { speed, jobs, out } = options;
  const config = loadConfig(options.config ?? DEFAULT_DEMO_CONFIG);
  const apis = new Map<ApiName, SimulatedApi>();
  for (const name of APIS) {
    const real = config.limiters.get(name);
    if (real === undefined) throw new Error(`${config.source} has no limiter "${name}" (the demo needs ${APIS.join(', ')})`);
    configureLimiter(name, scaled(real, speed));
    apis.set(name, new SimulatedApi(real, speed));
  }

  out(`rate-sync demo: ${jobs} jobs through ${APIS.join(', ')}, quotas from ${config.source}, on the memory store`);
  for (const name of APIS) out(`  ${name.padEnd(11)} ${describeQuota(apis.get(name)?.quota as LimiterConfig)}`);
  out(`time runs ×${speed}: one real second is ${simulated(1000, speed)} of quota time`);
  out(`workers: a piscina pool of ${options.threads} threads and ${options.forks} cluster forks, ${PER_WORKER} jobs in flight each\n`);

  const runners: Runner[] = [];
  try {
    runners.push(...(await startForks(options.forks, PER_WORKER)));
    if (options.threads > 0) runners.push(startPool(options.threads, PER_WORKER));
    return await runBatch(options, apis, runners);
  } finally {
    await Promise.allSettled(runners.map((r) => r.close()));
    await shutdown();
  }
}

async function runBatch(options: DemoOptions, apis: Map<ApiName, SimulatedApi>, runners: Runner[]): Promise<DemoReport> {
  const { speed, jobs, out } = options;
  const planned = plannedCalls(jobs);
  const peakWaiting = new Map<ApiName, number>(APIS.map((a) => [a, 0]));
  const workers = new Map<string, number>();
  let done = 0;
  let skipped = 0;
  let requeued = 0;

  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const requeueMs = 60_000 / speed;
  const onOutcome = (o: Outcome): void => {
    for (const call of o.calls) apis.get(call.api)?.receive(call.grantedAt);
    if (o.skipped) skipped++;
    if (o.requeueAt !== undefined) {
      // The user guide's requeue: the job goes back on the queue a (simulated) minute later.
      requeued++;
      const job = { n: o.n, step: o.requeueAt };
      setTimeout(() => dispatcher.add(job), requeueMs);
      return;
    }
    workers.set(o.worker, (workers.get(o.worker) ?? 0) + 1);
    if (++done === jobs) finish();
  };
  const dispatcher = new Dispatcher(runners, onOutcome, (err) => fail(err));

  const limiters = await Promise.all(APIS.map((name) => getLimiter(name)));
  const keys = await Promise.all(APIS.map((name) => getOrCloneLimiter(name, 'pipeline')));
  // What the coordinator sees, host-wide: every thread's and fork's requests.
  const view = async () => {
    const lanes = await Promise.all(
      APIS.map(async (name, i): Promise<LaneView> => {
        const [metrics, state] = await Promise.all([limiters[i]?.metrics(), keys[i]?.state()]);
        const quota = (apis.get(name) as SimulatedApi).quota;
        const remaining = state?.remaining ?? 0;
        const granted = metrics?.acquisitions ?? 0;
        const timeouts = metrics?.timeouts ?? 0;
        peakWaiting.set(name, Math.max(peakWaiting.get(name) ?? 0, metrics?.waiting ?? 0));
        return {
          name,
          granted,
          refused: timeouts,
          waiting: metrics?.waiting ?? 0,
          planned: planned[name],
          // OpenAI's refusals are final (the summary is skipped); the others' are retried.
          settled: Math.min(planned[name], granted + (name === 'openai_api' ? timeouts : 0)),
          quota:
            quota.algorithm === 'sliding_window'
              ? `${(quota.limit as number) - Math.floor(remaining)}/${quota.limit} in window`
              : `${Math.floor(remaining)}/${quota.burst ?? 1} tokens left`,
        };
      }),
    );
    return { jobsDone: done, jobs, simulated: simulated(performance.now() - started, speed), lanes };
  };

  const started = performance.now();
  const progress = createProgress(options.stream, out, await view());
  let ticking = false;
  const ticker = setInterval(() => {
    if (ticking) return;
    ticking = true;
    void view()
      .then((v) => progress.update(v))
      .finally(() => (ticking = false));
  }, 100);
  for (let n = 0; n < jobs; n++) dispatcher.add({ n, step: 0 });
  try {
    await finished;
  } finally {
    clearInterval(ticker);
    progress.update(await view());
    progress.stop();
  }
  const elapsedS = (performance.now() - started) / 1000;

  const metrics = await Promise.all(limiters.map((l) => l.metrics()));
  const { lanes, bucketS } = buildLanes(
    APIS.map((name, i) => ({
      name,
      pattern: PATTERNS[name],
      api: apis.get(name) as SimulatedApi,
      metrics: metrics[i] as LimiterMetrics,
      peakWaiting: peakWaiting.get(name) ?? 0,
    })),
    speed,
  );
  const report: DemoReport = { source: options.config ?? DEFAULT_DEMO_CONFIG, jobs, speed, elapsedS, skipped, requeued, workers, bucketS, lanes };
  out('');
  for (const line of renderTerminal(report, options.stream.isTTY === true)) out(line);
  for (const line of summaryLines(report)) out(line);
  if (options.report !== false) {
    const path = resolvePath(options.report);
    writeHtmlReport(path, report);
    out(`\nReport with charts: ${pathToFileURL(path).href}`);
  }
  return report;
}
