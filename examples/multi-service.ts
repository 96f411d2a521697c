/**
 * Multi-service coordination: an order goes through Stripe, then SendGrid, each step under its
 * own quota (and SendGrid's concurrency limit), with its own timeout.
 *
 *   cd examples && npx tsx multi-service.ts [--orders 30]
 */
import { parseArgs } from 'node:util';
import { getOrCloneLimiter, shutdown } from 'rate-sync';
import { sendgrid, stripe } from './services.js';

const { values } = parseArgs({ options: { orders: { type: 'string', default: '30' } } });

async function processOrder(orderId: string): Promise<void> {
  const stripeLimiter = await getOrCloneLimiter('stripe_api', 'orders');
  const payment = await stripeLimiter.withPermit(() => stripe.verify(orderId), { timeoutMs: 10_000 });

  const emailLimiter = await getOrCloneLimiter('sendgrid_api', 'orders');
  await emailLimiter.withPermit(() => sendgrid.sendConfirmation(payment.email), { timeoutMs: 30_000 });
}

const orders = Array.from({ length: Number(values.orders) }, (_, i) => `order-${i}`);
const started = performance.now();
await Promise.all(orders.map(processOrder));
const stats = await (await getOrCloneLimiter('sendgrid_api', 'orders')).metrics();
console.log(
  `${orders.length} orders paid and confirmed in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
    `emails waited ${stats.avgWaitMs.toFixed(0)} ms on average`,
);
await shutdown();
