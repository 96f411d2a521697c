/**
 * The Lua scripts (lua/*.lua, shipped next to the compiled code) and typed wrappers that build
 * their arguments and read their replies. Scripts are registered with ioredis `defineCommand`,
 * which calls them by SHA (EVALSHA) and sends the source again when Redis answers NOSCRIPT (a
 * restart, SCRIPT FLUSH, a new cluster node), so the script cache needs no care of ours.
 */
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import type { PolicyParams } from '../../algorithms/policy.js';
import type { AcquireItem } from '../store.js';
import { scriptFailure, STATUS } from './errors.js';
import { LAYOUT_VERSION, type LimiterKeys } from './keys.js';

export type RedisClient = Redis | Cluster;
type Arg = string | number;

/** Entry scripts and their number of keys. Each is sent as lua/policy.lua + the entry file. */
const SCRIPTS = { acquire: 3, release: 1, renew: 1, inspect: 3 } as const;
type ScriptName = keyof typeof SCRIPTS;

/** Versioned command names: two layouts' scripts can be registered side by side. */
const COMMANDS: Record<ScriptName, string> = {
  acquire: `ratesyncAcquireV${LAYOUT_VERSION}`,
  release: `ratesyncReleaseV${LAYOUT_VERSION}`,
  renew: `ratesyncRenewV${LAYOUT_VERSION}`,
  inspect: `ratesyncInspectV${LAYOUT_VERSION}`,
};

let sources: Record<ScriptName, string> | undefined;

/** The full source of each script (read once). */
export function scriptSources(): Record<ScriptName, string> {
  if (sources === undefined) {
    const read = (file: string): string => readFileSync(new URL(`./lua/${file}.lua`, import.meta.url), 'utf8');
    const policy = read('policy');
    const all = {} as Record<ScriptName, string>;
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) all[name] = `${policy}\n${read(name)}`;
    sources = all;
  }
  return sources;
}

export function defineScripts(client: RedisClient): void {
  const lua = scriptSources();
  for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
    client.defineCommand(COMMANDS[name], { numberOfKeys: SCRIPTS[name], lua: lua[name] });
  }
}

/** Names the store and limiter in the errors of a call. */
export interface ScriptContext {
  readonly storeId: string;
  readonly limiterId: string;
}

/** `now` for the scripts: undefined = Redis TIME (production); a number only in tests. */
export type NowOverride = number | undefined;

async function call(client: RedisClient, name: ScriptName, args: Arg[], ctx: ScriptContext): Promise<unknown[]> {
  const command = (client as unknown as Record<string, (...a: Arg[]) => Promise<unknown>>)[COMMANDS[name]];
  if (command === undefined) throw new Error(`script ${COMMANDS[name]} is not defined on this connection`);
  const reply = await command.apply(client, args);
  if (!Array.isArray(reply)) throw scriptFailure([reply], ctx.storeId, ctx.limiterId);
  if (reply[0] !== STATUS.OK) throw scriptFailure(reply, ctx.storeId, ctx.limiterId);
  return reply;
}

function num(value: unknown): number {
  return value === 'inf' ? Infinity : Number(value);
}

const policyArgsCache = new WeakMap<PolicyParams, Arg[]>();

function policyArgs(p: PolicyParams): Arg[] {
  let args = policyArgsCache.get(p);
  if (args === undefined) {
    args = [
      p.rate?.intervalMs ?? '',
      p.rate?.burst ?? '',
      p.window?.limit ?? '',
      p.window?.windowMs ?? '',
      p.concurrency?.max ?? '',
      p.concurrency?.leaseMs ?? '',
    ];
    policyArgsCache.set(p, args);
  }
  return args;
}

export interface AcquireReply {
  readonly granted: number;
  /** When the first refused item could be granted (ms since the base epoch); NaN when none was refused. */
  readonly retryAt: number;
  /** The decision instant (ms since the base epoch). */
  readonly now: number;
}

export async function acquireScript(
  client: RedisClient,
  keys: LimiterKeys,
  now: NowOverride,
  policy: PolicyParams,
  items: readonly AcquireItem[],
  ctx: ScriptContext,
): Promise<AcquireReply> {
  let costs = '';
  for (const item of items) costs = costs === '' ? String(item.cost) : `${costs},${item.cost}`;
  const args: Arg[] = [keys.rate, keys.window, keys.leases, now ?? '', ...policyArgs(policy), costs];
  if (policy.concurrency !== undefined) for (const item of items) args.push(item.leaseId ?? '');
  const reply = await call(client, 'acquire', args, ctx);
  return { granted: Number(reply[1]), retryAt: reply[2] === '' ? NaN : num(reply[2]), now: num(reply[3]) };
}

/** Returns the units freed (0 for an unknown or already released lease). */
export async function releaseScript(
  client: RedisClient,
  keys: LimiterKeys,
  leaseId: string,
  channel: string,
  message: string,
  ctx: ScriptContext,
): Promise<number> {
  const reply = await call(client, 'release', [keys.leases, leaseId, channel, message], ctx);
  return Number(reply[1]);
}

/** Returns the ids that were no longer held. */
export async function renewScript(
  client: RedisClient,
  keys: LimiterKeys,
  now: NowOverride,
  leaseMs: number,
  leaseIds: readonly string[],
  ctx: ScriptContext,
): Promise<string[]> {
  const reply = await call(client, 'renew', [keys.leases, now ?? '', leaseMs, ...leaseIds], ctx);
  return reply.slice(1).map(String);
}

export interface InspectReply {
  readonly now: number;
  readonly remaining: number;
  readonly retryAt: number;
  readonly resetAt: number;
  readonly inFlight: number;
}

export async function inspectScript(
  client: RedisClient,
  keys: LimiterKeys,
  now: NowOverride,
  policy: PolicyParams,
  ctx: ScriptContext,
): Promise<InspectReply> {
  const reply = await call(client, 'inspect', [keys.rate, keys.window, keys.leases, now ?? '', ...policyArgs(policy)], ctx);
  return { now: num(reply[1]), remaining: num(reply[2]), retryAt: num(reply[3]), resetAt: num(reply[4]), inFlight: Number(reply[5]) };
}
