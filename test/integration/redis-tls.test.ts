/**
 * rediss://: the store talks TLS to a redis-server with a certificate from a test authority
 * (made with openssl), verifies it, and says clearly when it cannot.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort, type RedisInstance } from '../../scripts/lib/redis.mjs';
import { ownRedis, redisSkip } from '../helpers/redis.js';

const openssl = spawnSync('openssl', ['version']).status === 0;
const skip = redisSkip !== false ? redisSkip : openssl ? false : 'openssl is not installed: no certificates for a TLS server';

let dir: string | undefined;
let server: RedisInstance | undefined;
after(async () => {
  await server?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function client(url: string, caFile?: string): { ok: boolean; code?: string; message?: string; inFlight?: number; fallback?: number } {
  const fixture = new URL('../fixtures/redis-tls-client.ts', import.meta.url).pathname;
  const { NODE_EXTRA_CA_CERTS: _inherited, ...rest } = process.env;
  const env = caFile === undefined ? rest : { ...rest, NODE_EXTRA_CA_CERTS: caFile };
  const r = spawnSync(process.execPath, ['--import', 'tsx', fixture, url], { env, encoding: 'utf8', timeout: 30_000 });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  assert.ok(line.startsWith('{'), `client printed ${JSON.stringify(r.stdout)} ${r.stderr}`);
  return JSON.parse(line);
}

test('rediss:// verifies the server certificate and works; without trust, a clear error', { skip, timeout: 60_000 }, async () => {
  dir = mkdtempSync(join(tmpdir(), 'ratesync-tls-'));
  const at = (f: string) => join(dir as string, f);
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=rate-sync test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(at('san.ext'), 'subjectAltName = IP:127.0.0.1\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
  const tlsPort = await freePort();
  server = await ownRedis({
    args: ['--tls-port', String(tlsPort), '--tls-cert-file', at('server.crt'), '--tls-key-file', at('server.key'), '--tls-ca-cert-file', at('ca.crt'), '--tls-auth-clients', 'no'],
  });

  assert.deepEqual(client(`rediss://127.0.0.1:${tlsPort}/0`, at('ca.crt')), { ok: true, inFlight: 1, fallback: 0 });

  const untrusted = client(`rediss://127.0.0.1:${tlsPort}/0`);
  assert.equal(untrusted.ok, false);
  assert.equal(untrusted.code, 'ERR_STORE_UNAVAILABLE');
  assert.match(String(untrusted.message), new RegExp(`^Store "secure" is unavailable for limiter "api": Redis at rediss://127.0.0.1:${tlsPort}/0 is unreachable \\(.*certificate.*\\)`));

  const plain = client(`redis://127.0.0.1:${tlsPort}/0`, at('ca.crt'));
  assert.equal(plain.ok, false, 'plain TCP to the TLS port does not work: the first case really used TLS');
});
