#!/usr/bin/env node
// `npm test`: the whole suite, on a clean checkout, with nothing installed by hand.
// Type-checks, builds, then runs every test file with node:test. Exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { provisionChromium } from './lib/chromium.mjs';
import { provisionPython } from './lib/python.mjs';
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

// Headless Chromium, only when a browser test is in the run (installing it takes a while).
if (pick(testFiles(join('test', 'integration'))).some((f) => f.includes('browser'))) {
  const chromium = provisionChromium();
  if ('skip' in chromium) {
    env.RATE_SYNC_TEST_CHROMIUM_SKIP = chromium.skip;
    process.stdout.write(`\n⚠ Browser tests will be skipped: ${chromium.skip}\n`);
  } else {
    env.RATE_SYNC_TEST_CHROMIUM = chromium.executable;
  }
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

// The Python client of the Celery bridge: pytest in the project virtualenv, against the same Redis.
const pythonFiles = pick(readdirSync(join(root, 'python', 'tests')).filter((f) => /^test_.*\.py$/.test(f)).map((f) => join('python', 'tests', f)));
if (pythonFiles.length > 0) {
  // RATE_SYNC_TEST_PYTHON_COMPAT=1 also runs them on the oldest versions we support (.venv-compat).
  const venvs = [['current', '.venv', 'python/requirements-test.txt']];
  if (process.env.RATE_SYNC_TEST_PYTHON_COMPAT) venvs.push(['oldest supported', '.venv-compat', 'python/requirements-compat.txt']);
  for (const [label, dir, requirements] of venvs) {
    const venv = provisionPython(root, undefined, { venv: dir, requirements });
    if ('skip' in venv) process.stdout.write(`\n⚠ Python tests (${label}) skipped: ${venv.skip}\n`);
    else {
      // pytest's tmp_path directories go to a directory of this run, removed after it.
      const basetemp = mkdtempSync(join(tmpdir(), 'ratesync-pytest-'));
      cleanups.push(async () => rmSync(basetemp, { recursive: true, force: true }));
      const args = ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', `--basetemp=${basetemp}`, ...pythonFiles];
      await step(`python tests, ${label} celery/redis (${pythonFiles.length} files)`, venv.python, args, {
        env: { ...env, RATE_SYNC_TEST_NODE: process.execPath },
      });
    }
  }
}
await cleanup();

process.stdout.write(`\nAll tests passed in ${((Date.now() - started) / 1000).toFixed(0)} s.\n`);
