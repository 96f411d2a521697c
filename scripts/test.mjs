#!/usr/bin/env node
// `npm test`: the whole suite, on a clean checkout, with nothing installed by hand.
// Type-checks, builds, then runs every test file with node:test. Exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { provisionRedis, startRedis } from './lib/redis.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();

/** Things to stop however the run ends (failure, Ctrl-C). */
const cleanups = [];
async function cleanup() {
  while (cleanups.length > 0) await cleanups.pop()().catch(() => undefined);
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => void cleanup().then(() => process.exit(130)));
}

async function step(title, command, args, options = {}) {
  const t0 = Date.now();
  process.stdout.write(`\n▶ ${title}\n`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (result.status !== 0) {
    process.stdout.write(`✖ ${title} failed after ${seconds} s\n`);
    await cleanup();
    process.exit(result.status ?? 1);
  }
  process.stdout.write(`✔ ${title} (${seconds} s)\n`);
}

function testFiles(dir) {
  const out = [];
  for (const name of readdirSync(join(root, dir)).sort()) {
    const path = join(root, dir, name);
    if (statSync(path).isDirectory()) out.push(...testFiles(join(dir, name)));
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

// A filter, e.g. `npm test -- limiter`, runs only the matching test files.
const filter = process.argv[2];
const pick = (files) => (filter === undefined ? files : files.filter((f) => f.includes(filter)));
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

await step('type-check (tsc --noEmit)', npx, ['tsc', '-p', 'tsconfig.json', '--noEmit']);
await step('build (tsc -> dist/, Lua scripts)', npm, ['run', '--silent', 'build']);

// One throwaway Redis for the run; tests that need their own instances (a cluster, a server to
// kill) start them with scripts/lib/redis.mjs and the binaries named here.
const env = { ...process.env };
const redis = provisionRedis();
if ('skip' in redis) {
  env.RATE_SYNC_TEST_REDIS_SKIP = redis.skip;
  process.stdout.write(`\n⚠ Redis tests will be skipped: ${redis.skip}\n`);
} else {
  const instance = await startRedis(redis.server);
  cleanups.push(() => instance.stop());
  env.RATE_SYNC_TEST_REDIS_URL = instance.url;
  env.RATE_SYNC_TEST_REDIS_SERVER = redis.server;
  env.RATE_SYNC_TEST_REDIS_CLI = redis.cli;
  process.stdout.write(`\n▶ redis-server ${instance.url} (pid ${instance.pid})\n`);
}

for (const suite of ['unit', 'integration']) {
  const files = pick(testFiles(join('test', suite)));
  if (files.length === 0) continue;
  await step(
    `${suite} tests (${files.length} files)`,
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', ...files],
    { env },
  );
}
await cleanup();

process.stdout.write(`\nAll tests passed in ${((Date.now() - started) / 1000).toFixed(0)} s.\n`);
