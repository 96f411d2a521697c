/**
 * The rate-sync.toml schema (zod), shared by TOML files and the `configure*()` calls, and the
 * translation of zod issues into `ConfigIssue`s that name the key, what was expected and what
 * was found. Every field schema states once, as its error message, what it expects.
 */
import { z } from 'zod';
import type { ConfigIssue } from '../errors.js';
import { formatPath, isTable, type Expansion } from './env.js';
import { describe, unknownKeyIssue } from './issues.js';
import {
  DEFAULT_LEASE_SECONDS,
  DEFAULT_REDIS_URL,
  type BridgeConfig,
  type LimiterConfig,
  type StoreConfig,
} from './types.js';

// Checked before zod, on the raw tree: zod records silently drop a "__proto__" key.
const ID = /^(?!__proto__$)[A-Za-z0-9_.-]{1,128}$/;
const ID_EXPECTED =
  'an id of 1 to 128 letters, digits, "_", "." or "-" (not ":", which separates a limiter from its clone key)';
const URL_EXPECTED = 'a redis:// or rediss:// URL';
const IMPLICIT_STORES: ReadonlySet<string> = new Set(['memory', 'redis']);

function number(expected: string, ok: (n: number) => boolean) {
  return z.number({ error: expected }).refine(ok, { error: expected });
}

const positiveNumber = number('a number > 0', (n) => n > 0);
const positiveInteger = number('a positive integer', (n) => Number.isSafeInteger(n) && n >= 1);
const id = z.string({ error: ID_EXPECTED }).regex(ID, { error: ID_EXPECTED });
const redisUrl = z.string({ error: URL_EXPECTED }).refine(isRedisUrl, { error: URL_EXPECTED });

const redisShape = {
  engine: z.literal('redis'),
  url: redisUrl.optional(),
  key_prefix: z
    .string({ error: 'a non-empty string without whitespace' })
    .regex(/^\S+$/, { error: 'a non-empty string without whitespace' })
    .regex(/^[^{}]*$/, { error: 'a prefix without "{" or "}" (the store puts a hash tag of its own in every key)' })
    .optional(),
  connect_timeout: positiveNumber.optional(),
  command_timeout: positiveNumber.optional(),
  expected_hosts: positiveInteger.optional(),
  cluster: z.boolean({ error: 'true or false' }).optional(),
  cluster_nodes: z.array(redisUrl, { error: `a list of ${URL_EXPECTED}s` }).optional(),
};

const limiterShape = {
  store: id.optional(),
  store_id: id.optional(),
  algorithm: z.enum(['token_bucket', 'sliding_window'], { error: '"token_bucket" or "sliding_window"' }).optional(),
  rate_per_second: positiveNumber.optional(),
  burst: positiveInteger.optional(),
  limit: positiveInteger.optional(),
  window_seconds: positiveNumber.optional(),
  max_concurrent: positiveInteger.optional(),
  timeout: number('a number >= 0', (n) => n >= 0).optional(),
  fail_closed: z.boolean({ error: 'true or false' }).optional(),
  lease_seconds: positiveNumber.optional(),
};

const NAMESPACE_EXPECTED = '1 to 64 letters, digits, "_", ".", ":" or "-"';
const bridgeShape = {
  url: redisUrl.optional(),
  namespace: z
    .string({ error: NAMESPACE_EXPECTED })
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, { error: NAMESPACE_EXPECTED })
    .optional(),
};

type Shape = Record<string, z.ZodType>;
type LimiterInput = z.output<z.ZodObject<typeof limiterShape>>;
type RedisInput = z.output<z.ZodObject<typeof redisShape>>;

/** How issues name keys: TOML keys as written, or the camelCase options of `configure*()`. */
export interface Naming {
  path(segments: readonly PropertyKey[]): string;
  key(snake: string): string;
  /** "key" or "option", as in "expected one of the keys: …". */
  readonly noun: string;
}

export const tomlNaming: Naming = { path: formatPath, key: (k) => k, noun: 'key' };

export interface ValidateContext {
  readonly env: NodeJS.ProcessEnv;
  readonly expansions?: ReadonlyMap<string, Expansion>;
  /** Stores that exist outside the validated tree (already configured programmatically). */
  readonly knownStores?: readonly string[];
  readonly naming?: Naming;
}

export interface Sections {
  readonly stores: Map<string, StoreConfig>;
  readonly limiters: Map<string, LimiterConfig>;
  readonly bridge?: BridgeConfig;
}

/** `redis[s]://[user[:password]@]host[:port][/db]`: a database, if given, is a number. */
export function isRedisUrl(url: string): boolean {
  return /^rediss?:\/\//.test(url) && URL.canParse(url) && /^\/?\d*$/.test(new URL(url).pathname);
}

/** The url of a redis store or bridge that does not give one. */
export function defaultRedisUrl(env: NodeJS.ProcessEnv): string {
  const fromEnv = env['REDIS_URL'];
  return fromEnv === undefined || fromEnv === '' ? DEFAULT_REDIS_URL : fromEnv;
}

/** The valid keys of the table at `path`; for a store, its `engine` decides (redis when unknown). */
export function keysAt(path: readonly PropertyKey[], input: unknown): readonly string[] {
  if (path.length === 0) return ['stores', 'limiters', 'bridge'];
  if (path[0] === 'stores') return isTable(input) && input['engine'] === 'memory' ? ['engine'] : Object.keys(redisShape);
  return Object.keys(path[0] === 'limiters' ? limiterShape : bridgeShape);
}

// A memory store has no key but `engine`, so the redis shape serves every `stores.<id>.<key>`.
const TABLE_SHAPES = new Map<string, Shape>([
  ['stores', redisShape],
  ['limiters', limiterShape],
]);

/** The schema of the field at `stores.<id>.<key>`, `limiters.<id>.<key>` or `bridge.<key>`. */
function fieldAt(path: readonly string[]): z.ZodType | undefined {
  const [section = '', ...rest] = path;
  const shape: Shape | undefined = rest.length === 2 ? TABLE_SHAPES.get(section) : rest.length === 1 && section === 'bridge' ? bridgeShape : undefined;
  const key = rest[rest.length - 1] ?? '';
  return shape !== undefined && Object.hasOwn(shape, key) ? shape[key] : undefined;
}

/** Converts an expanded string where the schema wants a number or a boolean, and it parses. */
export function convertExpanded(path: readonly string[], value: string): unknown {
  const field = fieldAt(path);
  const wanted = field instanceof z.ZodOptional ? field.unwrap() : field;
  const converted =
    wanted instanceof z.ZodNumber ? parseNumber(value)
    : wanted instanceof z.ZodBoolean ? parseBoolean(value)
    : undefined;
  return converted ?? value;
}

/** Decimal numbers only: no hex, no `_`, no blanks, no `inf`; `""` is not 0. */
export function parseNumber(text: string): number | undefined {
  return /^[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/.test(text) ? Number(text) : undefined;
}

export function parseBoolean(text: string): boolean | undefined {
  return text === 'true' ? true : text === 'false' ? false : undefined;
}

function configSchema(ctx: ValidateContext, key: (snake: string) => string) {
  const redis = z.strictObject(redisShape).superRefine((s, c) => redisRules(s, c, key), { when: (p) => isTable(p.value) });
  const store = z.discriminatedUnion('engine', [z.strictObject({ engine: z.literal('memory') }), redis], {
    error: (issue) => (isTable(issue.input) ? '"memory" or "redis"' : 'a table'),
  });
  const limiter = z
    .strictObject(limiterShape, { error: 'a table' })
    .superRefine((l, c) => limiterRules(l, c, key), { when: (p) => isTable(p.value) });
  return z
    .strictObject({
      stores: z.record(z.string(), store, { error: 'a table of stores ([stores.<id>] sections)' }).optional(),
      limiters: z.record(z.string(), limiter, { error: 'a table of limiters ([limiters.<id>] sections)' }).optional(),
      bridge: z.strictObject(bridgeShape, { error: 'a table' }).optional(),
    })
    .superRefine((root, c) => rootRules(root, c, ctx), { when: (p) => isTable(p.value) });
}

// Runs even when fields have failed (to report every issue at once), so it only tests presence.
function limiterRules(l: LimiterInput, ctx: z.RefinementCtx, key: (snake: string) => string): void {
  const issue = (field: keyof LimiterInput, expected: string, found?: string): void =>
    ctx.addIssue({ code: 'custom', path: [field], message: expected, input: l[field], params: { found } });
  const has = (field: keyof LimiterInput): boolean => l[field] !== undefined;

  if (has('store') && has('store_id')) {
    issue('store_id', `either ${key('store')} or ${key('store_id')} (two names of one key)`,
      `both ${key('store')} (${JSON.stringify(l.store)}) and ${key('store_id')} (${JSON.stringify(l.store_id)})`);
  } else if (!has('store') && !has('store_id')) {
    issue('store', 'the id of a declared store, or "memory" / "redis" for one with defaults');
  }

  const algorithm = l.algorithm ?? 'token_bucket';
  const misplaced = (field: keyof LimiterInput, owner: string): void => {
    if (has(field)) issue(field, `no ${key(field)} on a ${algorithm} (it belongs to ${owner})`);
  };
  if (algorithm === 'token_bucket') {
    misplaced('limit', 'sliding_window');
    misplaced('window_seconds', 'sliding_window');
    if (!has('rate_per_second') && !has('max_concurrent')) {
      issue('rate_per_second', `a number > 0 (a token_bucket needs ${key('rate_per_second')}, ${key('max_concurrent')} or both)`);
    }
    if (has('burst') && !has('rate_per_second')) {
      issue('burst', `no ${key('burst')} without ${key('rate_per_second')} (burst sizes the rate's bucket)`);
    }
  } else if (algorithm === 'sliding_window') {
    misplaced('rate_per_second', 'token_bucket');
    misplaced('burst', 'token_bucket');
    const needs = `(a sliding_window needs ${key('limit')} and ${key('window_seconds')})`;
    if (!has('limit')) issue('limit', `a positive integer ${needs}`);
    if (!has('window_seconds')) issue('window_seconds', `a number > 0 ${needs}`);
  }
}

function redisRules(s: RedisInput, ctx: z.RefinementCtx, key: (snake: string) => string): void {
  if (s.cluster_nodes !== undefined && (s.cluster === undefined || s.cluster === false)) {
    ctx.addIssue({ code: 'custom', path: ['cluster_nodes'], message: `no ${key('cluster_nodes')} without ${key('cluster')} = true`, input: s.cluster_nodes });
  }
  const db = typeof s.url === 'string' && isRedisUrl(s.url) ? new URL(s.url).pathname.replace('/', '') : '';
  if (s.cluster === true && db !== '' && Number(db) !== 0) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'a URL without a database number (a Redis Cluster has database 0 only)', input: s.url });
  }
}

function rootRules(root: Record<string, unknown>, ctx: z.RefinementCtx, vctx: ValidateContext): void {
  const stores = isTable(root['stores']) ? root['stores'] : {};
  const declared = [...(vctx.knownStores ?? []), ...Object.keys(stores)];
  let usesImplicitRedis = false;
  for (const [limiterId, l] of Object.entries(isTable(root['limiters']) ? root['limiters'] : {})) {
    if (!isTable(l)) continue;
    const field = l['store'] !== undefined ? 'store' : 'store_id';
    const ref = l[field];
    if (typeof ref !== 'string' || !ID.test(ref) || declared.includes(ref)) continue;
    if (ref === 'redis') usesImplicitRedis = true;
    if (IMPLICIT_STORES.has(ref)) continue;
    const list = declared.length === 0 ? 'none is declared' : `declared: ${declared.join(', ')}`;
    ctx.addIssue({
      code: 'custom',
      path: ['limiters', limiterId, field],
      message: `a declared store (${list}), or "memory" / "redis" for one with defaults`,
      input: ref,
    });
  }

  // REDIS_URL is the default url: check it only where it is used, and say where.
  const fromEnv = vctx.env['REDIS_URL'];
  if (fromEnv === undefined || fromEnv === '' || isRedisUrl(fromEnv)) return;
  const users = Object.entries(stores)
    .filter(([, s]) => isTable(s) && s['engine'] === 'redis' && s['url'] === undefined)
    .map(([storeId]) => `store "${storeId}"`);
  if (usesImplicitRedis) users.push('the implicit store "redis"');
  if (isTable(root['bridge']) && root['bridge']['url'] === undefined) users.push('the bridge');
  if (users.length === 0) return;
  ctx.addIssue({
    code: 'custom',
    path: [],
    message: `REDIS_URL to be ${URL_EXPECTED} (it is the url of ${users.join(', ')})`,
    params: { found: `${JSON.stringify(fromEnv)} (from REDIS_URL)` },
  });
}

/** Validates a whole tree (already env-expanded); returns every issue, or the typed sections. */
export function validateConfig(tree: unknown, ctx: ValidateContext): { sections?: Sections; issues: ConfigIssue[] } {
  const naming = ctx.naming ?? tomlNaming;
  const issues = idIssues(tree, naming);
  const result = configSchema(ctx, naming.key).safeParse(tree, { reportInput: true });
  if (!result.success) issues.push(...result.error.issues.flatMap((i) => toIssues(i, ctx, naming)));
  return result.success && issues.length === 0 ? { sections: toSections(result.data, ctx), issues } : { issues };
}

function idIssues(tree: unknown, naming: Naming): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const section of ['stores', 'limiters']) {
    const table = isTable(tree) ? tree[section] : undefined;
    for (const tableId of isTable(table) ? Object.keys(table) : []) {
      if (!ID.test(tableId)) issues.push({ path: naming.path([section, tableId]), expected: ID_EXPECTED, found: JSON.stringify(tableId) });
    }
  }
  return issues;
}

function toSections(data: z.output<ReturnType<typeof configSchema>>, ctx: ValidateContext): Sections {
  const stores = new Map<string, StoreConfig>();
  for (const [storeId, s] of Object.entries(data.stores ?? {})) {
    stores.set(storeId, s.engine === 'memory' ? { id: storeId, engine: 'memory' } : redisStore(storeId, s, ctx.env));
  }
  const limiters = new Map<string, LimiterConfig>();
  for (const [limiterId, l] of Object.entries(data.limiters ?? {})) {
    const limiter = toLimiter(limiterId, l);
    limiters.set(limiterId, limiter);
    const known = stores.has(limiter.store) || (ctx.knownStores ?? []).includes(limiter.store);
    if (!known) stores.set(limiter.store, limiter.store === 'redis' ? redisStore('redis', {}, ctx.env) : { id: 'memory', engine: 'memory' });
  }
  const b = data.bridge;
  const bridge = b === undefined ? undefined : { url: b.url ?? defaultRedisUrl(ctx.env), namespace: b.namespace ?? 'ratesync' };
  return bridge === undefined ? { stores, limiters } : { stores, limiters, bridge };
}

function redisStore(storeId: string, s: Partial<z.output<z.ZodObject<typeof redisShape>>>, env: NodeJS.ProcessEnv): StoreConfig {
  return {
    id: storeId,
    engine: 'redis',
    url: s.url ?? defaultRedisUrl(env),
    keyPrefix: s.key_prefix ?? 'ratesync',
    connectTimeout: s.connect_timeout ?? 2,
    commandTimeout: s.command_timeout ?? 1,
    expectedHosts: s.expected_hosts ?? 1,
    cluster: s.cluster ?? false,
    clusterNodes: s.cluster_nodes ?? [],
  };
}

function toLimiter(limiterId: string, l: LimiterInput): LimiterConfig {
  const optional = {
    ratePerSecond: l.rate_per_second,
    burst: l.rate_per_second === undefined ? undefined : (l.burst ?? 1),
    limit: l.limit,
    windowSeconds: l.window_seconds,
    maxConcurrent: l.max_concurrent,
    timeout: l.timeout,
  };
  return {
    id: limiterId,
    store: l.store ?? l.store_id ?? '',
    algorithm: l.algorithm ?? 'token_bucket',
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
    failClosed: l.fail_closed ?? false,
    leaseSeconds: l.lease_seconds ?? DEFAULT_LEASE_SECONDS,
  };
}

function toIssues(issue: z.core.$ZodIssue, ctx: ValidateContext, naming: Naming): ConfigIssue[] {
  const path = naming.path(issue.path);
  const expansion = ctx.expansions?.get(formatPath(issue.path));
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) =>
        unknownKeyIssue(naming.path([...issue.path, k]), k, keysAt(issue.path, issue.input).map(naming.key), naming.noun),
      );
    case 'invalid_union': {
      const input = issue.discriminator !== undefined && isTable(issue.input) ? issue.input[issue.discriminator] : issue.input;
      return [{ path, expected: issue.message, found: describe(input, expansion) }];
    }
    case 'custom':
      if (typeof issue.params?.['found'] === 'string') return [{ path, expected: issue.message, found: issue.params['found'] }];
  }
  let found = describe(issue.input, expansion);
  if (issue.code === 'invalid_type' && expansion === undefined && typeof issue.input === 'string') {
    const parsed = issue.expected === 'number' ? parseNumber(issue.input) : issue.expected === 'boolean' ? parseBoolean(issue.input) : undefined;
    if (parsed !== undefined) found += ` — remove the quotes to make it a ${issue.expected}`;
  }
  return [{ path, expected: issue.message, found }];
}
