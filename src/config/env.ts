/**
 * Environment expansion for rate-sync.toml, applied to every string key and value:
 * `${VAR}`, `${VAR:-default}` (default when VAR is unset or empty, as in the shell) and `$$`
 * for a literal `$`. A bare `$NAME` is left as written, so a password such as `pa$word`
 * survives. Unlike the original Python library, an unset `${VAR}` is an error rather than a
 * literal `${VAR}` quietly sent to Redis.
 */
import type { ConfigIssue } from '../errors.js';

/** A value produced by expansion: the schema may convert it to a number or boolean. */
export interface Expansion {
  readonly path: readonly string[];
  /** The string as written in the file, e.g. `${LIMIT:-100}`. */
  readonly raw: string;
  readonly variables: readonly string[];
}

export interface Expanded {
  readonly value: unknown;
  /** Every value that came from an expansion, by dotted path (see `formatPath`). */
  readonly expansions: ReadonlyMap<string, Expansion>;
  /** Unset variables and malformed `${…}`; a value with an issue is left as written. */
  readonly issues: readonly ConfigIssue[];
}

/** Called with each expanded value, to turn e.g. `"100"` into 100 where a number is wanted. */
export type Convert = (path: readonly string[], value: string) => unknown;

interface StringExpansion {
  value: string;
  variables: string[];
  issues: Array<Omit<ConfigIssue, 'path'>>;
}

// `$$`, `${…}`, an unclosed `${`, or a lone `$` (left alone).
const TOKEN = /\$(\$|\{([^}]*)\}|\{)?/g;
const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;
const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** Dotted TOML path; a segment that is not a bare key is quoted, as TOML would write it. */
export function formatPath(segments: readonly PropertyKey[]): string {
  return segments
    .map((s) => {
      const text = String(s);
      return BARE_KEY.test(text) ? text : JSON.stringify(text);
    })
    .join('.');
}

export function expandString(text: string, env: NodeJS.ProcessEnv = process.env): StringExpansion {
  const variables: string[] = [];
  const issues: StringExpansion['issues'] = [];
  const value = text.replace(TOKEN, (match, body: string | undefined, inner: string | undefined) => {
    if (body === undefined) return match;
    if (body === '$') return '$';
    const ref = inner === undefined ? null : REFERENCE.exec(inner);
    if (ref === null) {
      issues.push({
        expected: '${NAME} or ${NAME:-default} (write $$ for a literal $)',
        found: `${JSON.stringify(match)} in ${JSON.stringify(text)}`,
      });
      return match;
    }
    const name = ref[1] ?? '';
    const fallback = ref[2];
    const set = env[name];
    variables.push(name);
    if (fallback !== undefined) return set === undefined || set === '' ? fallback : set;
    if (set === undefined) {
      issues.push({
        expected: `environment variable ${name} to be set (or a default: \${${name}:-value})`,
        found: `${name} unset in ${JSON.stringify(text)}`,
      });
      return match;
    }
    return set;
  });
  return { value, variables, issues };
}

export function isTable(value: unknown): value is Record<string, unknown> {
  return Object.prototype.toString.call(value) === '[object Object]';
}

/** Expands a parsed TOML document recursively; returns a new tree, the input is not touched. */
export function expandEnv(tree: unknown, env: NodeJS.ProcessEnv = process.env, convert?: Convert): Expanded {
  const expansions = new Map<string, Expansion>();
  const issues: ConfigIssue[] = [];
  const report = (path: readonly string[], found: StringExpansion['issues']): void => {
    for (const issue of found) issues.push({ path: formatPath(path), ...issue });
  };

  const walk = (value: unknown, path: string[]): unknown => {
    if (typeof value === 'string') {
      const result = expandString(value, env);
      report(path, result.issues);
      if (result.variables.length === 0 || result.issues.length > 0) return result.value;
      expansions.set(formatPath(path), { path, raw: value, variables: result.variables });
      return convert === undefined ? result.value : convert(path, result.value);
    }
    if (Array.isArray(value)) return value.map((item, i) => walk(item, [...path, String(i)]));
    if (!isTable(value)) return value;

    const entries: Array<[string, unknown]> = [];
    const used = new Set<string>();
    for (const [rawKey, child] of Object.entries(value)) {
      const result = expandString(rawKey, env);
      report([...path, rawKey], result.issues);
      const key = result.issues.length > 0 ? rawKey : result.value;
      if (used.has(key)) {
        issues.push({
          path: formatPath([...path, key]),
          expected: 'each key once (after environment expansion)',
          found: `${JSON.stringify(rawKey)} expanding to ${JSON.stringify(key)}, a key already used`,
        });
        continue;
      }
      used.add(key);
      entries.push([key, walk(child, [...path, key])]);
    }
    // fromEntries defines own properties, so a key named "__proto__" stays a plain key.
    return Object.fromEntries(entries);
  };

  return { value: walk(tree, []), expansions, issues };
}
