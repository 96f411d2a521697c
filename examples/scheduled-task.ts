/**
 * Scheduled tasks: every cluster worker runs the same schedule, and at each tick only one of them
 * sends the report — the first to take the `daily_report` permit (max_concurrent = 1) with
 * `tryAcquire({ timeoutMs: 0 })`, a leader election that needs no extra service. The others find
 * the permit taken and return at once.
 *
 *   cd examples && npx tsx scheduled-task.ts [--workers 4] [--ticks 3] [--interval-ms 2000]
 *
 * The primary holds the coordinator; the workers are node:cluster forks (in production: the
 * workers of one host; across hosts, put `daily_report` on the Redis store).
 */
import cluster from 'node:cluster';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { getLimiter, getOrCloneLimiter, isRateSyncMessage, shutdown } from 'rate-sync';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '4' },
    ticks: { type: 'string', default: '3' },
    'interval-ms': { type: 'string', default: '2000' },
  },
});

/** The report job itself: takes a while, like a real one. */
async function generateReport(): Promise<string> {
  await sleep(300);
  return `report of ${new Date().toISOString().slice(0, 10)}`;
}

/**
 * The user guide's task: returns whether this worker was the one that ran it. The permit is held
 * while the report runs, so it must run longer than the spread between the workers' timers (a
 * worker whose timer fired after the leader had finished would run it again); for very short
 * jobs, keep the permit until the next tick instead of releasing it.
 */
async function dailyReport(send: (report: string) => void): Promise<boolean> {
  const limiter = await getOrCloneLimiter('daily_report', 'all-workers');
  const permit = await limiter.tryAcquire({ timeoutMs: 0 });
  if (permit === null) return false; // another worker is handling it
  try {
    send(await generateReport());
  } finally {
    permit.release();
  }
  return true;
}

interface TickResult {
  tick: number;
  pid: number;
  ran: boolean;
}

if (cluster.isWorker) {
  // A worker's scheduler: the primary gives the first tick's instant, so all fire together,
  // as cron would on every worker.
  process.on('message', (message: { start?: number; ticks?: number; intervalMs?: number }) => {
    if (isRateSyncMessage(message) || message.start === undefined) return;
    const { start, ticks = 0, intervalMs = 0 } = message;
    void (async () => {
      for (let tick = 0; tick < ticks; tick++) {
        await sleep(start + tick * intervalMs - Date.now());
        const ran = await dailyReport((report) => console.log(`tick ${tick}: worker ${process.pid} sent the ${report}`));
        process.send?.({ tick, pid: process.pid, ran } satisfies TickResult);
      }
      process.disconnect();
    })();
  });
  process.send?.('ready');
} else {
  // Loading the configuration here makes this primary's coordinator the one its workers use.
  await getLimiter('daily_report');
  const workers = Number(values.workers);
  const ticks = Number(values.ticks);
  const intervalMs = Number(values['interval-ms']);
  const results: TickResult[] = [];
  const forks = Array.from({ length: workers }, () => cluster.fork());
  // Each worker says when it listens (a message sent before that would be lost).
  await Promise.all(forks.map((fork) => new Promise((resolve) => fork.on('message', (m) => m === 'ready' && resolve(m)))));
  const start = Date.now() + 500;
  for (const fork of forks) {
    fork.on('message', (m: TickResult | 'ready') => isRateSyncMessage(m) || m === 'ready' || results.push(m));
    fork.send({ start, ticks, intervalMs });
  }
  await Promise.all(forks.map((fork) => new Promise((resolve) => fork.once('exit', resolve))));
  for (let tick = 0; tick < ticks; tick++) {
    const ran = results.filter((r) => r.tick === tick && r.ran).length;
    const skipped = results.filter((r) => r.tick === tick && !r.ran).length;
    console.log(`tick ${tick}: ${ran} ${ran === 1 ? 'worker' : 'workers'} ran the report, ${skipped} skipped it`);
  }
  const ran = results.filter((r) => r.ran).length;
  console.log(`${ticks} ticks, ${workers} workers: the report ran ${ran} times`);
  await shutdown();
}
