/**
 * Retry with exponential backoff: an operation that fails now and then is retried after 1 s,
 * 2 s, 4 s, … — each attempt takes a permit, so retries respect the quota too.
 *
 *   cd examples && npx tsx retry-backoff.ts [--operations 10] [--base-ms 1000] [--failures 2]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { getOrCloneLimiter, shutdown } from 'rate-sync';
import { stripe } from './services.js';

const { values } = parseArgs({
  options: {
    operations: { type: 'string', default: '10' },
    'base-ms': { type: 'string', default: '1000' },
    failures: { type: 'string', default: '2' },
  },
});
const baseMs = Number(values['base-ms']);
let attempts = 0;

/** A flaky API: each order's first `--failures` attempts fail with a 503. */
const failuresLeft = new Map<string, number>();
async function flakyCharge(orderId: string): Promise<string> {
  attempts++;
  const left = failuresLeft.get(orderId) ?? Number(values.failures);
  failuresLeft.set(orderId, left - 1);
  if (left > 0) throw new Error(`charge ${orderId}: 503 Service Unavailable`);
  return (await stripe.verify(orderId)).orderId;
}

async function retryWithBackoff<T>(operation: () => Promise<T>, limiterId: string, maxRetries = 5): Promise<T> {
  const limiter = await getOrCloneLimiter(limiterId, 'retry');
  for (let attempt = 0; ; attempt++) {
    try {
      return await limiter.withPermit(operation, { timeoutMs: 30_000 });
    } catch (err) {
      if (attempt === maxRetries - 1) throw err;
      await sleep(2 ** attempt * baseMs);
    }
  }
}

const orders = Array.from({ length: Number(values.operations) }, (_, i) => `order-${i}`);
const results = await Promise.allSettled(orders.map((id) => retryWithBackoff(() => flakyCharge(id), 'stripe_api')));
const ok = results.filter((r) => r.status === 'fulfilled').length;
console.log(`${ok} of ${orders.length} operations succeeded in ${attempts} attempts`);
await shutdown();
