/**
 * A cluster fork of the demo: runs the jobs the primary sends it (the primary keeps at most its
 * share in flight here) and sends back each outcome. rate-sync's messages share the IPC channel.
 */
import { isRateSyncMessage } from '../../index.js';
import { isDemoMessage, type DemoMessage } from './job.js';
import { runJob } from './pipeline.js';

const send = (message: DemoMessage): void => void process.send?.(message);
const worker = `cluster fork ${process.pid}`;

process.on('message', (message: unknown) => {
  if (isRateSyncMessage(message) || !isDemoMessage(message)) return;
  if (message.demo === 'stop') process.disconnect();
  else if (message.demo === 'job') {
    const { job } = message;
    runJob(job, worker).then(
      (outcome) => send({ demo: 'outcome', outcome }),
      (err: unknown) => send({ demo: 'failed', n: job.n, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  }
});
send({ demo: 'ready' });
