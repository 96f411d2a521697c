/**
 * Queue processing: p-queue bounds how many messages are handled at once, the limiter bounds how
 * fast. A message that gets no permit within 30 s is nacked for redelivery, and acked otherwise.
 *
 *   cd examples && npx tsx queue-processing.ts [--messages 50] [--timeout-ms 30000] [--redeliver-ms 30000]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import PQueue from 'p-queue';
import { getOrCloneLimiter, shutdown } from 'rate-sync';
import { openai } from './services.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '50' },
    'timeout-ms': { type: 'string', default: '30000' },
    'redeliver-ms': { type: 'string', default: '30000' },
  },
});
const timeoutMs = Number(values['timeout-ms']);
const redeliverMs = Number(values['redeliver-ms']);

const limiter = await getOrCloneLimiter('openai_api', 'queue:summaries');
const workers = new PQueue({ concurrency: 10 });
let acked = 0;
let nacked = 0;

async function processMessage(text: string): Promise<void> {
  const permit = await limiter.tryAcquire({ timeoutMs });
  if (permit === null) {
    nacked++;
    // The broker redelivers a nacked message later.
    void sleep(redeliverMs).then(() => workers.add(() => processMessage(text)));
    return;
  }
  try {
    await openai.summarize(text);
    acked++;
  } finally {
    permit.release();
  }
}

const total = Number(values.messages);
for (let i = 0; i < total; i++) void workers.add(() => processMessage(`message ${i}`));
while (acked < total) await sleep(20);
console.log(`${acked} messages acked, ${nacked} nacked for redelivery`);
await shutdown();
