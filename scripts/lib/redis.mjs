// Throwaway redis-server instances on free loopback ports, for the test suite and the benchmarks.
// Used by scripts/test.mjs (one shared instance for the run) and by tests that need instances of
// their own (a cluster, a server to kill and restart). Only ever binds 127.0.0.1.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CANDIDATES = ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/opt/homebrew/bin'];

function which(name) {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...CANDIDATES];
  for (const dir of dirs) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

/**
 * Finds redis-server and redis-cli, installing Debian's redis-server with apt-get when they are
 * missing and this process may (root, apt-get present). Returns `{ server, cli }`, or
 * `{ skip: reason }` when this machine cannot have a Redis.
 */
export function provisionRedis(log = (line) => process.stdout.write(`${line}\n`)) {
  let server = which('redis-server');
  if (server === undefined) {
    const apt = which('apt-get');
    if (apt === undefined || process.getuid?.() !== 0) {
      return { skip: 'redis-server is not installed, and apt-get is not available to root here to install it' };
    }
    log('redis-server not found: installing Debian package redis-server with apt-get…');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync(apt, ['install', '-y', '--no-install-recommends', 'redis-server'], { stdio: 'inherit', env });
    if (r.status !== 0) {
      spawnSync(apt, ['update'], { stdio: 'inherit', env });
      r = spawnSync(apt, ['install', '-y', '--no-install-recommends', 'redis-server'], { stdio: 'inherit', env });
    }
    server = which('redis-server');
    if (r.status !== 0 || server === undefined) return { skip: 'apt-get install redis-server failed' };
  }
  const cli = which('redis-cli');
  if (cli === undefined) return { skip: `redis-cli is missing next to ${server}` };
  return { server, cli };
}

/** A TCP port nobody listens on right now, on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function ping(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    socket.setTimeout(500, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      answer += d.toString();
      if (answer.includes('\r\n')) socket.end();
    });
    // A server with a password answers NOAUTH: it is up all the same.
    socket.on('close', () => resolve(answer.startsWith('+PONG') || answer.startsWith('-NOAUTH')));
    socket.on('error', () => resolve(false));
  });
}

async function waitUntil(check, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/**
 * Starts `redis-server` on a free loopback port (or `options.port`), daemonized, with no
 * persistence. `options.args` adds server options, e.g. `['--cluster-enabled', 'yes']`.
 * Returns `{ port, url, pid, dir, stop(), kill(), restart() }`: one handle for the port's server
 * across restarts, so `stop()` stops whichever process serves it now.
 */
export async function startRedis(server, options = {}) {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), `ratesync-redis-${port}-`));
  const pidfile = join(dir, 'redis.pid');
  const launch = async () => {
    rmSync(pidfile, { force: true });
    execFileSync(server, [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'yes',
      '--pidfile', pidfile,
      '--dir', dir,
      '--logfile', join(dir, 'redis.log'),
      ...(options.args ?? []),
    ]);
    try {
      await waitUntil(() => ping(port), 10_000, `redis-server on port ${port}`);
    } catch (err) {
      // Never leave a half-started server behind.
      if (existsSync(pidfile)) process.kill(Number(readFileSync(pidfile, 'utf8').trim()), 'SIGKILL');
      throw err;
    }
    return Number(readFileSync(pidfile, 'utf8').trim());
  };
  const removeDir = () => {
    if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
  };
  let pid;
  try {
    pid = await launch();
  } catch (err) {
    removeDir();
    throw err;
  }
  const alive = () => {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    // The daemon's parent is PID 1, which may reap it late: a zombie has exited all the same.
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return true;
    }
  };
  const halt = async (signal) => {
    if (!alive()) return;
    process.kill(pid, signal);
    await waitUntil(async () => !alive(), 10_000, `redis-server ${pid} to exit`);
  };
  const instance = {
    port,
    dir,
    url: `redis://127.0.0.1:${port}/0`,
    /** The pid of the server process serving the port now (it changes with restart()). */
    get pid() {
      return pid;
    },
    /** Stops the server, whichever process serves the port now, and removes its directory (unless the caller gave one). */
    async stop() {
      await halt('SIGTERM');
      removeDir();
    },
    /** Kills the server at once (SIGKILL), keeping its directory for restart(). */
    kill: () => halt('SIGKILL'),
    /** Starts a new server on the same port and directory (after kill(), or stops the running one first). */
    async restart() {
      await halt('SIGTERM');
      pid = await launch();
    },
    /** Synchronous last resort for exit handlers: SIGKILL the server, remove its directory. */
    killNow() {
      if (alive()) process.kill(pid, 'SIGKILL');
      removeDir();
    },
  };
  return instance;
}
