/**
 * `ratesync check [file]`: validates a configuration and shows what it means, or lists every
 * problem. Returns the exit code.
 */
import { resolve } from 'node:path';
import { configSearchPaths, discoverConfigFile, loadConfigFile } from '../config/index.js';
import type { LimiterConfig, RateSyncConfig, StoreConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';

export interface CheckIo {
  out: (s: string) => void;
  err: (s: string) => void;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export function checkCommand(file: string | undefined, io: CheckIo): number {
  const cwd = io.cwd ?? process.cwd();
  const env = io.env ?? process.env;
  try {
    const path = file === undefined ? discoverConfigFile(cwd, env) : resolve(cwd, file);
    if (path === undefined) {
      const searched = configSearchPaths(cwd, env).map((p) => `  - ${p}`);
      io.err(['No rate-sync configuration found. Searched:', ...searched].join('\n'));
      return 1;
    }
    io.out(describeConfig(loadConfigFile(path, env)));
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(err.message);
    return 1;
  }
}

function describeConfig(config: RateSyncConfig): string {
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  const lines = [`${config.source}: OK (${count(config.limiters.size, 'limiter')}, ${count(config.stores.size, 'store')})`, ''];
  const header = ['limiter', 'store (engine)', 'algorithm', 'quota', 'max concurrent', 'timeout', 'on store failure'];
  const rows = [...config.limiters.values()].map((l) => limiterRow(l, config.stores.get(l.store)));
  lines.push(...(rows.length === 0 ? ['(no limiters)'] : table([header, ...rows])), '');
  for (const store of config.stores.values()) lines.push(`store ${store.id}: ${storeLine(store)}`);
  if (config.bridge !== undefined) {
    lines.push(`bridge: ${hidePassword(config.bridge.url)}, namespace "${config.bridge.namespace}"`);
  }
  return lines.join('\n');
}

function limiterRow(l: LimiterConfig, store: StoreConfig | undefined): string[] {
  const quota =
    l.limit !== undefined ? `${l.limit} per ${l.windowSeconds} s`
    : l.ratePerSecond !== undefined ? `${l.ratePerSecond}/s, burst ${l.burst ?? 1}`
    : '-';
  return [
    l.id,
    `${l.store} (${store?.engine ?? '?'})`,
    l.algorithm,
    quota,
    l.maxConcurrent === undefined ? '-' : String(l.maxConcurrent),
    l.timeout === undefined ? '-' : `${l.timeout} s`,
    // The embedded store cannot become unreachable: the failure policy only matters for redis.
    store?.engine !== 'redis' ? '-' : l.failClosed ? 'fail closed' : 'local fallback',
  ];
}

function storeLine(store: StoreConfig): string {
  if (store.engine === 'memory') return 'memory';
  return (
    `redis ${hidePassword(store.url)}${store.cluster ? ` (cluster${store.clusterNodes.length === 0 ? '' : ` + ${store.clusterNodes.length} more seeds`})` : ''}, key prefix "${store.keyPrefix}", ` +
    `timeouts ${store.connectTimeout} s connect / ${store.commandTimeout} s command, expected hosts ${store.expectedHosts}`
  );
}

// The output of `check` ends up in CI logs and bug reports.
function hidePassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password === '') return url;
  parsed.password = '***';
  return parsed.toString();
}

/** Left-aligned columns, two spaces apart. */
function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}
