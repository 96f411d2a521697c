// Headless Chromium for the status page's end-to-end test: Debian's `chromium`, driven by
// playwright-core (which downloads no browser of its own). Installed with apt-get when missing
// and this process may (root, apt-get present), like redis-server in ./redis.mjs.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const EXECUTABLES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** Flags for a quiet, offline, throwaway browser (the user data dir is given separately). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const found = () => EXECUTABLES.find((path) => existsSync(path));

/**
 * Returns `{ executable }`, installing Debian's chromium package when it is missing and this
 * process may, or `{ skip: reason }` when this machine cannot have it.
 */
export function provisionChromium(log = (line) => process.stdout.write(`${line}\n`)) {
  let executable = found();
  if (executable !== undefined) return { executable };
  const apt = ['/usr/bin/apt-get', '/bin/apt-get'].find((path) => existsSync(path));
  if (apt === undefined || process.getuid?.() !== 0) {
    return { skip: 'chromium is not installed, and apt-get is not available to root here to install it' };
  }
  log('chromium not found: installing Debian package chromium with apt-get…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync(apt, ['install', '-y', 'chromium'], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync(apt, ['update'], { stdio: 'inherit', env });
    r = spawnSync(apt, ['install', '-y', 'chromium'], { stdio: 'inherit', env });
  }
  executable = found();
  if (r.status !== 0 || executable === undefined) return { skip: 'apt-get install chromium failed' };
  return { executable };
}
