/**
 * Third-party API limiting: respect GitHub's 5000 requests/hour across all workers. A job that
 * gets no permit within 30 s is requeued for later instead of blocking a worker.
 *
 *   cd examples && npx tsx third-party-api.ts [--jobs 20] [--timeout-ms 30000] [--requeue-ms 60000]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { getOrCloneLimiter, RateLimitTimeoutError, shutdown } from 'rate-sync';
import { github } from './services.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '20' },
    'timeout-ms': { type: 'string', default: '30000' },
    'requeue-ms': { type: 'string', default: '60000' },
  },
});
const timeoutMs = Number(values['timeout-ms']);
const requeueMs = Number(values['requeue-ms']);

const limiter = await getOrCloneLimiter('github_api', 'worker');
let created = 0;
let requeued = 0;

async function callGithubApi(data: { title: string }): Promise<void> {
  try {
    await limiter.withPermit(() => github.createIssue(data), { timeoutMs });
    created++;
  } catch (err) {
    if (!(err instanceof RateLimitTimeoutError)) throw err;
    requeued++;
    await sleep(requeueMs); // a real worker would put the job back on its queue with a delay
    await callGithubApi(data);
  }
}

const jobs = Array.from({ length: Number(values.jobs) }, (_, i) => ({ title: `job-${i}` }));
await Promise.all(jobs.map((job) => callGithubApi(job)));
console.log(`${created} issues created, ${requeued} requeues on timeout`);
await shutdown();
