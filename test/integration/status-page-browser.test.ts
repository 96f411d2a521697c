/**
 * The status page end to end in headless Chromium (Debian's chromium, driven by playwright-core):
 * it loads, shows the configured limiters, and its numbers and chart move while load runs.
 * `npm test` provisions chromium (scripts/lib/chromium.mjs) or says why it skips.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHROMIUM_ARGS } from '../../scripts/lib/chromium.mjs';
import { serve } from '../../src/cli/serve.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds, failing with `what` after `ms`. */
async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await sleep(100);
  }
}

const executable = process.env['RATE_SYNC_TEST_CHROMIUM'] ?? (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);
const skip: string | false =
  executable !== undefined ? false : (process.env['RATE_SYNC_TEST_CHROMIUM_SKIP'] ?? 'chromium is not installed (run the suite with `npm test`, which installs it)');

test('the status page shows the configured limiters and its numbers move while load runs', { skip, timeout: 60_000 }, async () => {
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(join(tmpdir(), 'ratesync-browser-'));
  const config = join(dir, 'rate-sync.toml');
  writeFileSync(config, '[limiters.api]\nstore = "memory"\nrate_per_second = 20\nburst = 2\n\n[limiters.slots]\nstore = "memory"\nmax_concurrent = 3\n');
  const server = await serve({ config, out: () => undefined, http: { port: 0 } });
  const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: executable as string,
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
  let loading = true;
  const load = (async () => {
    const api = await server.rateSync.getLimiter('api');
    while (loading) await api.acquire();
  })();
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const field = (limiter: string, name: string) => page.locator(`[data-limiter="${limiter}"] [data-field="${name}"]`);
    await page.goto(server.url as string);
    await page.waitForSelector('body[data-state="live"]', { timeout: 10_000 });
    assert.deepEqual(await page.locator('[data-limiter]').evaluateAll((els) => els.map((e) => e.getAttribute('data-limiter'))), ['api', 'slots']);
    assert.match((await field('api', 'quota').textContent()) ?? '', /^20\/s, burst 2 · token_bucket · store memory/);
    assert.equal(await field('slots', 'in-flight').textContent(), '0 / 3');

    const slots = await server.rateSync.getLimiter('slots');
    const held = [await slots.acquire(), await slots.acquire(), await slots.acquire()];
    const queued = slots.acquire();
    const firstTotal = Number(await field('api', 'grants-total').textContent());
    const shown = async (limiter: string, name: string): Promise<string> => (await field(limiter, name).textContent()) ?? '';
    await until('the grants shown grow by 20', 15_000, async () => Number((await shown('api', 'grants-total')).replace(/,/g, '')) >= firstTotal + 20);
    await until('the chart has a point above 5 grants/s', 15_000, async () => Number(await page.locator('[data-limiter="api"] polyline').getAttribute('data-max')) > 5);
    await until('3 of 3 slots are shown in flight', 5000, async () => (await shown('slots', 'in-flight')) === '3 / 3');
    assert.equal(await field('slots', 'waiting').textContent(), '1');
    const rate = Number(await field('api', 'rate').textContent());
    assert.ok(rate > 5 && rate <= 25, `grants/s shown: ${rate}`);
    assert.equal(await page.locator('#clients tr[data-client="local"]').count(), 1);
    const shot = join(tmpdir(), `ratesync-status-page-${process.pid}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    process.stdout.write(`status page screenshot: ${shot}\n`);

    for (const p of held) p.release();
    (await queued).release();
    await until('the released slots are shown free', 5000, async () => (await field('slots', 'in-flight').textContent()) === '0 / 3');
  } finally {
    loading = false;
    await load;
    await context.close();
    await server.stop('test over');
    rmSync(dir, { recursive: true, force: true });
  }
});
