/**
 * What travels between the demo's primary and its workers (piscina threads, cluster forks): a job
 * to run from a given step, and what came of it. Plain data, so it crosses threads and IPC as is.
 */

export const APIS = ['stripe_api', 'github_api', 'openai_api'] as const;
export type ApiName = (typeof APIS)[number];

export interface Job {
  readonly n: number;
  /** The step to start from: a requeued job resumes at the step that timed out. */
  readonly step: number;
}

/** One request a simulated API received, at its permit's grant instant (epoch ms, the coordinator's decision instant). */
export interface Call {
  readonly api: ApiName;
  readonly grantedAt: number;
}

export interface Outcome {
  readonly n: number;
  /** Set when a step got no permit in time and the job must be requeued: the step to resume at. */
  readonly requeueAt?: number;
  readonly calls: Call[];
  /** The optional summary was skipped (OpenAI refused within its timeout). */
  readonly skipped: boolean;
  /** Which thread or process ran it, e.g. `piscina thread 2` or `cluster fork 4242`. */
  readonly worker: string;
}

/** IPC messages of the demo (rate-sync's own messages share the channel; they have `rateSync`). */
export type DemoMessage =
  | { demo: 'ready' }
  | { demo: 'job'; job: Job }
  | { demo: 'outcome'; outcome: Outcome }
  | { demo: 'failed'; n: number; error: string }
  | { demo: 'stop' };

export function isDemoMessage(message: unknown): message is DemoMessage {
  return typeof message === 'object' && message !== null && typeof (message as { demo?: unknown }).demo === 'string';
}

/** Which steps job `n` has: every job pays (Stripe); 4 in 5 open an issue (GitHub); 1 in 4 asks for a summary (OpenAI). */
export function plannedCalls(jobs: number): Record<ApiName, number> {
  let github = 0;
  let openai = 0;
  for (let n = 0; n < jobs; n++) {
    if (n % 5 !== 4) github++;
    if (n % 4 === 0) openai++;
  }
  return { stripe_api: jobs, github_api: github, openai_api: openai };
}
