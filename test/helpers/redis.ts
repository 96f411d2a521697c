/**
 * Redis for tests: the run's shared server (started by scripts/test.mjs), throwaway servers of
 * a test's own, and a throwaway Redis Cluster. When this machine cannot have Redis,
 * `redisSkip` says why and tests skip with it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startRedis, type RedisInstance } from '../../scripts/lib/redis.mjs';

export const sharedRedisUrl = process.env['RATE_SYNC_TEST_REDIS_URL'];

export const redisSkip: string | false =
  sharedRedisUrl !== undefined
    ? false
    : (process.env['RATE_SYNC_TEST_REDIS_SKIP'] ?? 'no Redis for this run (run the suite with `npm test`)');

const started = new Set<RedisInstance>();
// A test that fails before its own stop() must not leave a daemonized server (or its directory) behind.
process.once('exit', () => {
  for (const instance of started) instance.killNow();
});

/** Starts a redis-server of the test's own (e.g. to kill and restart it); stop it in an `after` hook. */
export async function ownRedis(options?: { args?: string[] }): Promise<RedisInstance> {
  const server = process.env['RATE_SYNC_TEST_REDIS_SERVER'];
  if (server === undefined) throw new Error('RATE_SYNC_TEST_REDIS_SERVER is not set: run the suite with `npm test`');
  const instance = await startRedis(server, options);
  started.add(instance);
  return instance;
}

let prefixes = 0;

/** A key prefix no other test (or earlier run against the same server) uses. */
export function uniquePrefix(label: string): string {
  return `rs-test:${label}:${process.pid}.${++prefixes}.${randomBytes(3).toString('hex')}`;
}

export interface RedisCluster {
  readonly nodes: readonly RedisInstance[];
  /** A seed node's URL; the client discovers the others. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` nodes on free loopback ports (no replicas), created with
 * `redis-cli --cluster create`, ready when every node reports the 16384 slots served.
 */
export async function ownCluster(masters = 3): Promise<RedisCluster> {
  const cli = process.env['RATE_SYNC_TEST_REDIS_CLI'];
  if (cli === undefined) throw new Error('RATE_SYNC_TEST_REDIS_CLI is not set: run the suite with `npm test`');
  const nodes: RedisInstance[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(await ownRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'] }));
    }
    execFileSync(cli, ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], {
      stdio: 'pipe',
      timeout: 30_000,
    });
    const deadline = Date.now() + 20_000;
    for (const node of nodes) {
      const client = new Redis(node.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      await client.connect();
      try {
        for (;;) {
          const info = String(await client.call('CLUSTER', 'INFO'));
          if (info.includes('cluster_state:ok') && info.includes('cluster_slots_ok:16384')) break;
          if (Date.now() > deadline) throw new Error(`cluster node ${node.port} not ready: ${info}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        client.disconnect();
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, url: nodes[0]!.url.replace(/\/0$/, ''), stop };
}
