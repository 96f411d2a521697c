/**
 * The Redis key layout, version 1 (docs/redis.md). The version is part of every key and of the
 * script command names, so a future layout can run next to this one during an upgrade instead
 * of misreading its keys.
 *
 * Every key of a limiter key K carries the hash tag {K}: one script call touches one cluster
 * slot. Redis hashes the text between the first "{" and the first "}" after it, or the whole
 * key when that text is empty, so "%", "{" and "}" in K are percent-encoded (and key_prefix
 * may not contain braces): the tag is then exactly K, never empty, the same for all of K's keys.
 */
export const LAYOUT_VERSION = 1;

/** Milliseconds since this instant (2025-01-01T00:00:00Z) are the scripts' time unit. */
export const BASE_EPOCH_MS = 1_735_689_600_000;

export interface LimiterKeys {
  /** string: GCRA theoretical arrival time. */
  readonly rate: string;
  /** list: sliding-window log. */
  readonly window: string;
  /** zset: concurrency leases scored by expiry. */
  readonly leases: string;
}

/** K with "%", "{" and "}" percent-encoded (one-to-one, so keys of distinct limiters stay distinct). */
export function hashTag(key: string): string {
  return key.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function limiterKeys(prefix: string, key: string): LimiterKeys {
  const base = `${prefix}:v${LAYOUT_VERSION}:{${hashTag(key)}}`;
  return { rate: `${base}:r`, window: `${base}:w`, leases: `${base}:c` };
}

/** Where release scripts announce freed leases: "<store instance id> <limiter key>". */
export function releaseChannel(prefix: string): string {
  return `${prefix}:v${LAYOUT_VERSION}:released`;
}
