/**
 * One job of the demo's batch, as a user would write it: it runs unchanged in a piscina thread and
 * in a cluster fork, and takes its permits from the primary's coordinator without being handed
 * anything. The steps follow the user guide's patterns:
 *
 * 1. charge the customer (Stripe) — multi-service coordination, requeue on timeout;
 * 2. open an issue (GitHub, 4 jobs in 5) — third-party API limiting, requeue on timeout;
 * 3. ask for a summary (OpenAI, 1 job in 4) — batch processing, skip on timeout.
 *
 * Each `acquire()` waits at most the limiter's `timeout` from the configuration.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getOrCloneLimiter, RateLimitTimeoutError } from '../../index.js';
import type { ApiName, Call, Job, Outcome } from './job.js';

/** A third-party call: 20 to 50 ms (real time) of latency. */
const callApi = (): Promise<void> => sleep(20 + Math.random() * 30);

async function request(api: ApiName, calls: Call[]): Promise<boolean> {
  const limiter = await getOrCloneLimiter(api, 'pipeline');
  let permit;
  try {
    permit = await limiter.acquire();
  } catch (err) {
    if (err instanceof RateLimitTimeoutError) return false;
    throw err;
  }
  calls.push({ api, grantedAt: permit.grantedAt });
  try {
    await callApi();
  } finally {
    permit.release();
  }
  return true;
}

export async function runJob(job: Job, worker: string): Promise<Outcome> {
  const calls: Call[] = [];
  const { n } = job;
  if (job.step <= 0 && !(await request('stripe_api', calls))) {
    return { n, requeueAt: 0, calls, skipped: false, worker };
  }
  if (job.step <= 1 && n % 5 !== 4 && !(await request('github_api', calls))) {
    return { n, requeueAt: 1, calls, skipped: false, worker };
  }
  const skipped = n % 4 === 0 && !(await request('openai_api', calls));
  return { n, calls, skipped, worker };
}
