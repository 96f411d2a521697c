/**
 * Batch processing: go through a batch one item at a time; an item that gets no permit within
 * 60 s is skipped with a warning, so one slow quota never stalls the whole batch.
 *
 *   cd examples && npx tsx batch-processing.ts [--items 100] [--timeout-ms 60000]
 */
import { parseArgs } from 'node:util';
import { getOrCloneLimiter, shutdown } from 'rate-sync';
import { openai } from './services.js';

const { values } = parseArgs({
  options: { items: { type: 'string', default: '100' }, 'timeout-ms': { type: 'string', default: '60000' } },
});
const items = Array.from({ length: Number(values.items) }, (_, i) => `document ${i}`);

const limiter = await getOrCloneLimiter('openai_api', 'batch');
let processed = 0;
let skipped = 0;
for (const item of items) {
  const permit = await limiter.tryAcquire({ timeoutMs: Number(values['timeout-ms']) });
  if (permit === null) {
    console.warn(`rate limit timeout - skipping ${item}`);
    skipped++;
    continue;
  }
  try {
    await openai.summarize(item);
    processed++;
  } finally {
    permit.release();
  }
}
console.log(`${processed} items processed, ${skipped} skipped`);
await shutdown();
