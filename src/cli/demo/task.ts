/** The demo's piscina task: one job, in a pool thread. */
import { threadId } from 'node:worker_threads';
import type { Job, Outcome } from './job.js';
import { runJob } from './pipeline.js';

export default function task(job: Job): Promise<Outcome> {
  return runJob(job, `piscina thread ${threadId}`);
}
