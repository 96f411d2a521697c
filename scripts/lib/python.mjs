// The project virtualenv for the Python tests (the Celery bridge client): `.venv` at the repo
// root with python/requirements-test.txt and the client (`pip install -e python`). Built once and
// rebuilt when those files or the interpreter change; pip installs into it only, never the system.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function run(command, args, options = {}) {
  return spawnSync(command, args, { encoding: 'utf8', ...options });
}

/** A python3 of version 3.9 or newer, with its version; undefined if there is none. */
function findPython() {
  for (const name of ['python3', 'python']) {
    const r = run(name, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
    if (r.status !== 0) continue;
    const [major, minor] = r.stdout.trim().split('.').map(Number);
    if (major === 3 && minor >= 9) return { python: name, version: r.stdout.trim() };
  }
  return undefined;
}

function createVenv(python, dir, log) {
  let r = run(python, ['-m', 'venv', '--clear', dir], { stdio: 'inherit' });
  if (r.status === 0) return true;
  // Debian splits venv out of python3; install it when we may.
  if (process.getuid?.() !== 0 || run('apt-get', ['--version']).status !== 0) return false;
  log('python3 -m venv failed: installing Debian package python3-venv with apt-get…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'python3-venv'], { stdio: 'inherit', env });
  r = run(python, ['-m', 'venv', '--clear', dir], { stdio: 'inherit' });
  return r.status === 0;
}

/**
 * Makes sure `<root>/.venv` (or `options.venv`) has what the Python tests need, from
 * python/requirements-test.txt (or `options.requirements`). Returns `{ python }` (the venv's
 * interpreter) or `{ skip: reason }` when this machine cannot have it.
 */
export function provisionPython(root, log = (line) => process.stdout.write(`${line}\n`), options = {}) {
  const found = findPython();
  if (found === undefined) return { skip: 'no python3 (3.9 or newer) on this machine' };
  const dir = join(root, options.venv ?? '.venv');
  const python = join(dir, 'bin', 'python');
  const requirements = join(root, options.requirements ?? join('python', 'requirements-test.txt'));
  const stamp = createHash('sha256')
    .update(found.version)
    .update(readFileSync(requirements))
    .update(readFileSync(join(root, 'python', 'pyproject.toml')))
    .digest('hex');
  const stampFile = join(dir, '.ratesync-stamp');
  if (existsSync(python) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return { python };
  log(`▶ Python ${found.version}: creating ${dir} and installing ${requirements}…`);
  if (!createVenv(found.python, dir, log)) return { skip: `${found.python} -m venv does not work here (and python3-venv could not be installed)` };
  const env = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' };
  const pip = run(python, ['-m', 'pip', 'install', '--quiet', '-r', requirements, '-e', join(root, 'python')], { stdio: 'inherit', env });
  if (pip.status !== 0) return { skip: 'pip install into .venv failed (is PyPI reachable?)' };
  writeFileSync(stampFile, stamp);
  return { python };
}
