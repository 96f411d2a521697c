/**
 * Reading rate-sync.toml: discovery, TOML parsing, environment expansion, validation.
 * Every problem of a file is reported at once, in one ConfigError.
 */
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { expandEnv } from './env.js';
import { convertExpanded, validateConfig } from './schema.js';
import type { RateSyncConfig } from './types.js';

/** Parses and validates the text of a rate-sync.toml; `source` names it in errors. */
export function parseConfig(text: string, source: string, env: NodeJS.ProcessEnv = process.env): RateSyncConfig {
  let tree: unknown;
  try {
    tree = parse(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // The parser's message is "Invalid TOML document: <what>\n\n<code block>": keep <what>.
    const what = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
    const found = `TOML syntax error at line ${err.line}, column ${err.column}: ${what}`;
    throw new ConfigError(source, [{ path: '', expected: 'valid TOML', found }], { cause: err });
  }

  const expanded = expandEnv(tree, env, convertExpanded);
  const { sections, issues } = validateConfig(expanded.value, { env, expansions: expanded.expansions });
  // A value whose expansion failed is left as written; do not also report it as a bad value.
  const failed = expanded.issues.map((i) => i.path);
  const all: ConfigIssue[] = [
    ...expanded.issues,
    ...issues.filter((i) => !failed.some((f) => i.path === f || i.path.startsWith(`${f}.`))),
  ];
  if (sections === undefined || all.length > 0) throw new ConfigError(source, all);
  return { source, ...sections };
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): RateSyncConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const found = code === 'ENOENT' ? 'no such file' : `an unreadable file (${code ?? String(err)})`;
    throw new ConfigError(path, [{ path: '', expected: 'a readable rate-sync.toml file', found }], { cause: err });
  }
  return parseConfig(text, path, env);
}

/** The files discovery tries, in order: `RATE_SYNC_CONFIG`, ./rate-sync.toml, ./config/rate-sync.toml. */
export function configSearchPaths(cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): string[] {
  const explicit = env['RATE_SYNC_CONFIG'];
  const defaults = [join(cwd, 'rate-sync.toml'), join(cwd, 'config', 'rate-sync.toml')];
  return explicit === undefined || explicit === '' ? defaults : [resolve(cwd, explicit), ...defaults];
}

/**
 * The configuration file to load, or undefined when there is none. `RATE_SYNC_CONFIG` pointing
 * nowhere is an error, not a reason to fall back to another file.
 */
export function discoverConfigFile(cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env['RATE_SYNC_CONFIG'];
  if (explicit !== undefined && explicit !== '') {
    const path = resolve(cwd, explicit);
    if (isFile(path)) return path;
    throw new ConfigError('the environment variable RATE_SYNC_CONFIG', [
      { path: '', expected: 'the path of an existing file', found: `${JSON.stringify(explicit)} (no file at ${path})` },
    ]);
  }
  return configSearchPaths(cwd, env).find(isFile);
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}
