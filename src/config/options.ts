/**
 * Validation of `configureStore()`, `configureLimiter()` and `cloneLimiter()` options with the
 * same schema as rate-sync.toml: camelCase names are turned into TOML keys, validated, and
 * issues are reported with the camelCase names again.
 */
import { ConfigError, type ConfigIssue } from '../errors.js';
import { isTable } from './env.js';
import { unknownKeyIssue } from './issues.js';
import { keysAt, validateConfig, type Naming, type Sections } from './schema.js';
import type { LimiterConfig, LimiterOptions, LimiterOverrides, StoreConfig, StoreOptions } from './types.js';

const camel = (snake: string): string => snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

// Paths are [section, id, key]: the source already names the id, so issues name the option only.
const optionNaming: Naming = {
  path: (segments) => segments.slice(2).map((s) => camel(String(s))).join('.'),
  key: camel,
  noun: 'option',
};

const OVERRIDABLE: ReadonlyArray<keyof LimiterOverrides> = [
  'ratePerSecond', 'burst', 'limit', 'windowSeconds', 'maxConcurrent', 'timeout', 'leaseSeconds',
];

/** Renames camelCase options to TOML keys; anything else is an unknown option. */
function toTomlKeys(options: unknown, valid: readonly string[], issues: ConfigIssue[]): unknown {
  if (!isTable(options)) return options;
  const entries: Array<[string, unknown]> = [];
  for (const [name, value] of Object.entries(options)) {
    const key = valid.find((k) => camel(k) === name);
    if (key === undefined) issues.push(unknownKeyIssue(name, name, valid.map(camel), 'option'));
    else entries.push([key, value]);
  }
  return Object.fromEntries(entries);
}

function validated(source: string, tree: unknown, issues: ConfigIssue[], env: NodeJS.ProcessEnv, knownStores: readonly string[] = []): Sections {
  const result = validateConfig(tree, { env, knownStores, naming: optionNaming });
  const all = [...issues, ...result.issues];
  if (result.sections === undefined || all.length > 0) throw new ConfigError(source, all);
  return result.sections;
}

export function validateStoreOptions(id: string, options: StoreOptions, env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const issues: ConfigIssue[] = [];
  const store = toTomlKeys(options, keysAt(['stores', id], options), issues);
  const sections = validated(`configureStore(${JSON.stringify(id)})`, { stores: { [id]: store } }, issues, env);
  return sections.stores.get(id) as StoreConfig;
}

/**
 * `implicitStore` is set when the limiter names an undeclared "memory" or "redis" store:
 * the caller registers it with the limiter.
 */
export function validateLimiterOptions(
  id: string,
  options: LimiterOptions,
  stores: ReadonlyMap<string, StoreConfig>,
  env: NodeJS.ProcessEnv = process.env,
): { limiter: LimiterConfig; implicitStore?: StoreConfig } {
  const issues: ConfigIssue[] = [];
  const limiter = toTomlKeys(options, keysAt(['limiters', id], options), issues);
  const tree = { limiters: { [id]: limiter } };
  const sections = validated(`configureLimiter(${JSON.stringify(id)})`, tree, issues, env, [...stores.keys()]);
  const config = sections.limiters.get(id) as LimiterConfig;
  const implicitStore = sections.stores.get(config.store);
  return implicitStore === undefined ? { limiter: config } : { limiter: config, implicitStore };
}

/**
 * The configuration of a clone of `base`, with `overrides` applied and validated as a whole
 * (a `limit` on a token bucket is an issue). `newId` (e.g. `github_api:worker`) is not checked
 * against the id rules: its ":" is what marks it as a clone.
 */
export function applyOverrides(base: LimiterConfig, newId: string, overrides: LimiterOverrides): LimiterConfig {
  const source = `cloneLimiter(${JSON.stringify(newId)})`;
  const issues: ConfigIssue[] = [];
  const given: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(overrides as Record<string, unknown>)) {
    if (value === undefined) continue;
    if ((OVERRIDABLE as readonly string[]).includes(name)) given[name] = value;
    else if (['store', 'storeId', 'algorithm', 'failClosed'].includes(name)) {
      issues.push({
        path: name,
        expected: `one of the options a clone may override: ${OVERRIDABLE.join(', ')}`,
        found: `${name} (a clone keeps the store, algorithm and failure policy of "${base.id}")`,
      });
    } else issues.push(unknownKeyIssue(name, name, OVERRIDABLE, 'option'));
  }
  const { id: _baseId, ...inherited } = base;
  const merged = toTomlKeys({ ...inherited, ...given }, keysAt(['limiters'], {}), issues);
  // The tree key is never shown (issues name options only); it just has to be a valid id.
  const sections = validated(source, { limiters: { clone: merged } }, issues, {}, [base.store]);
  return { ...(sections.limiters.get('clone') as LimiterConfig), id: newId };
}
