/**
 * `ratesync demo`: a batch of jobs against simulated third-party APIs, through the limiters of
 * `examples/rate-sync.toml` on the embedded memory store, time-scaled so an hour of quota
 * passes in seconds. Each simulated API enforces its quota on its own (and answers 429 to any
 * request over it), so the report shows both sides: what the limiters granted, waited and
 * refused, and what the APIs saw.
 */
import { fileURLToPath } from 'node:url';
import PQueue from 'p-queue';
import type { LimiterConfig } from '../config/types.js';
import type { Limiter } from '../client/limiter.js';
import { RateSync } from '../rate-sync.js';

export interface DemoOptions {
  config?: string;
  /** Time runs this many times faster than real time. */
  speed: number;
  jobs: number;
  out: (line: string) => void;
}

export const DEFAULT_DEMO_CONFIG = fileURLToPath(new URL('../../examples/rate-sync.toml', import.meta.url));

/**
 * A third-party API that enforces its own quota. It records when each request was sent (its
 * permit's grant instant: the demo runs time ×speed, which would turn the event loop's few
 * milliseconds between grant and call into seconds of simulated jitter) and, at the end,
 * counts every request its quota would have refused with a 429.
 */
class SimulatedApi {
  readonly #sent: number[] = [];
  readonly #quota: LimiterConfig;
  readonly #speed: number;

  constructor(quota: LimiterConfig, speed: number) {
    this.#quota = quota;
    this.#speed = speed;
  }

  get calls(): number {
    return this.#sent.length;
  }

  async call(sentAt: number, latencyMs: number): Promise<void> {
    this.#sent.push(sentAt);
    await new Promise((resolve) => setTimeout(resolve, latencyMs));
  }

  /** Requests over quota, and the busiest window seen (requests in one window / in one second). */
  audit(): { rejected: number; busiest: string } {
    // Relative to the first request: epoch-scale doubles would round every sum below.
    const first = this.#sent.reduce((a, b) => Math.min(a, b), Infinity);
    const sent = this.#sent.map((t) => t - first).sort((a, b) => a - b);
    const q = this.#quota;
    const sliding = q.limit !== undefined && q.windowSeconds !== undefined;
    // The busiest window: of the quota's length, or one (simulated) second for a token bucket.
    const windowMs = ((sliding ? (q.windowSeconds as number) : 1) * 1000) / this.#speed;
    const allowed = sliding ? (q.limit as number) : (q.burst ?? 1) + (q.ratePerSecond as number);
    let peak = 0;
    let over = 0;
    for (let i = 0, j = 0; j < sent.length; j++) {
      while ((sent[i] as number) + windowMs <= (sent[j] as number)) i++;
      peak = Math.max(peak, j - i + 1);
      if (j - i + 1 > allowed) over++;
    }
    const busiest = `${peak} of ${allowed} per ${sliding ? 'window' : 'second'}`;
    if (sliding) return { rejected: over, busiest };
    // A token bucket of `burst` tokens refilled at the (scaled) rate: one token per request.
    const intervalMs = 1000 / ((q.ratePerSecond as number) * this.#speed);
    const burst = q.burst ?? 1;
    let tat = -Infinity;
    let rejected = 0;
    for (const t of sent) {
      // Stamps were epoch ms, resolved by a double to ~0.25 µs: hence the 1 µs slack.
      if (Math.max(tat, t) + intervalMs - burst * intervalMs > t + 1e-3) rejected++;
      else tat = Math.max(tat, t) + intervalMs;
    }
    return { rejected, busiest };
  }
}

interface Lane {
  readonly name: string;
  readonly pattern: string;
  readonly real: LimiterConfig;
  readonly limiter: Limiter;
  readonly api: SimulatedApi;
  readonly timeoutMs: number;
  granted: number;
  waited: number;
  totalWaitMs: number;
  timedOut: number;
}

function describeQuota(c: LimiterConfig): string {
  return c.algorithm === 'sliding_window' ? `${c.limit} / ${c.windowSeconds} s` : `${c.ratePerSecond}/s, burst ${c.burst ?? 1}`;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const { speed, jobs, out } = options;
  const rs = new RateSync({ configFile: options.config ?? DEFAULT_DEMO_CONFIG });
  const config = rs.config;
  const lanes: Lane[] = [];
  const plan: [string, string][] = [
    ['github_api', 'requeue on timeout'],
    ['stripe_api', 'multi-service step'],
    ['openai_api', 'skip on timeout'],
  ];
  for (const [name, pattern] of plan) {
    const real = config.limiters.get(name);
    if (real === undefined) throw new Error(`${config.source} has no limiter "${name}"`);
    const limiter = await rs.cloneLimiter(name, `${name}@x${speed}`, {
      ...(real.windowSeconds === undefined ? {} : { windowSeconds: real.windowSeconds / speed }),
      ...(real.ratePerSecond === undefined ? {} : { ratePerSecond: real.ratePerSecond * speed }),
    });
    lanes.push({
      name,
      pattern,
      real,
      limiter,
      api: new SimulatedApi(real, speed),
      timeoutMs: ((real.timeout ?? 60) * 1000) / speed,
      granted: 0,
      waited: 0,
      totalWaitMs: 0,
      timedOut: 0,
    });
  }
  const [github, stripe, openai] = lanes as [Lane, Lane, Lane];

  out(`rate-sync demo: ${jobs} jobs, quotas from ${config.source}, on the memory store`);
  out(`time runs ×${speed}: one real second is ${(speed / 60).toFixed(1)} simulated minutes\n`);

  const call = async (lane: Lane): Promise<boolean> => {
    const asked = performance.now();
    const permit = await lane.limiter.tryAcquire({ timeoutMs: lane.timeoutMs });
    if (permit === null) {
      lane.timedOut++;
      return false;
    }
    const wait = performance.now() - asked;
    lane.granted++;
    if (wait > 1) {
      lane.waited++;
      lane.totalWaitMs += wait;
    }
    try {
      await lane.api.call(permit.grantedAt, 20 + Math.random() * 30);
    } finally {
      permit.release();
    }
    return true;
  };

  const queue = new PQueue({ concurrency: 256 });
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let done = 0;
  let requeued = 0;
  let skipped = 0;
  // A job: charge (Stripe), then open an issue (GitHub) and, for some, ask for a summary (OpenAI),
  // each step with the user guide's pattern: requeue the job on timeout (it resumes at the step
  // that timed out), or skip the optional step.
  const steps: ((n: number) => Promise<boolean>)[] = [
    () => call(stripe),
    (n) => (n % 5 === 4 ? Promise.resolve(true) : call(github)),
    async (n) => {
      if (n % 4 === 0 && !(await call(openai))) skipped++;
      return true;
    },
  ];
  const job = async (n: number, from: number): Promise<void> => {
    for (let step = from; step < steps.length; step++) {
      if (!(await (steps[step] as (n: number) => Promise<boolean>)(n))) {
        requeued++;
        setTimeout(() => void queue.add(() => job(n, step)), 60_000 / speed);
        return;
      }
    }
    if (++done === jobs) finish();
  };

  const started = performance.now();
  const progress = setInterval(() => {
    const s = ((performance.now() - started) / 1000).toFixed(0).padStart(3);
    out(`${s} s  jobs ${String(done).padStart(6)}/${jobs}  ` + lanes.map((l) => `${l.name} ${l.granted}`).join('  '));
  }, 2000);
  for (let n = 0; n < jobs; n++) void queue.add(() => job(n, 0));
  await finished;
  clearInterval(progress);
  const elapsed = (performance.now() - started) / 1000;

  const header = ['limiter', 'quota (real time)', 'pattern', 'granted', 'waited', 'avg wait', 'timed out', 'API 429s', 'busiest'];
  const audits = lanes.map((l) => l.api.audit());
  const rows = lanes.map((l, i) => [
    l.name,
    describeQuota(l.real),
    l.pattern,
    String(l.granted),
    String(l.waited),
    l.waited === 0 ? '-' : `${(l.totalWaitMs / l.waited).toFixed(0)} ms`,
    String(l.timedOut),
    String(audits[i]?.rejected),
    audits[i]?.busiest ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  out('');
  for (const row of [header, ...rows]) out(row.map((cell, i) => cell.padEnd(widths[i] as number)).join('  '));
  out('');
  out(
    `${done} jobs done, ${skipped} summaries skipped, ${requeued} requeues, in ${elapsed.toFixed(1)} s ` +
      `(${((elapsed * speed) / 60).toFixed(1)} simulated minutes).`,
  );
  const violations = audits.reduce((n, a) => n + a.rejected, 0);
  out(violations === 0 ? 'The APIs answered every request: no quota was exceeded.' : `${violations} requests were over quota!`);
  await rs.shutdown();
}
