/**
 * Which coordinators serve a namespace. Each live coordinator keeps a field in one Redis hash,
 * refreshed every second with an expiry in Redis time, so:
 * - clients can tell "no coordinator at all" from "no permit in time";
 * - a coordinator whose limiters live in its own memory cannot share the request list: it
 *   refuses to start when another coordinator serves the namespace, and both log a conflict if
 *   they ever meet (two started at the same instant). Coordinators whose limiters all live in
 *   Redis stores may serve one list together.
 * One script over one key does the bookkeeping atomically.
 */
import type { Redis } from 'ioredis';

/** A coordinator that stops refreshing is forgotten after this long. */
export const PRESENCE_TTL_MS = 3000;
export const PRESENCE_BEAT_MS = 1000;

export interface PresenceRecord {
  readonly id: string;
  readonly pid: number;
  readonly host: string;
  /** Its limiters' state lives in its own memory: it must be the only coordinator of the namespace. */
  readonly exclusive: boolean;
  readonly version: string;
}

// KEYS[1]: the hash; ARGV: id, record JSON, ttl ms, mode (join | beat | leave), exclusive (1/0).
// Fields hold "<expires at, Redis ms> <record JSON>". Returns {conflict (1/0), other records...}.
const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local others = {}
local conflict = 0
for i = 1, #all, 2 do
  local id, rec = all[i], all[i + 1]
  local expires = tonumber(string.match(rec, '^(%d+) '))
  if expires == nil or expires <= now then
    redis.call('HDEL', KEYS[1], id)
  elseif id ~= ARGV[1] then
    local json = string.sub(rec, string.len(tostring(expires)) + 2)
    table.insert(others, json)
    if ARGV[5] == '1' or string.find(json, '"exclusive":true', 1, true) then conflict = 1 end
  end
end
if ARGV[4] == 'leave' then
  redis.call('HDEL', KEYS[1], ARGV[1])
elseif ARGV[4] == 'beat' or conflict == 0 then
  redis.call('HSET', KEYS[1], ARGV[1], (now + tonumber(ARGV[3])) .. ' ' .. ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
table.insert(others, 1, conflict)
return others
`;

export interface PresenceResult {
  /** Another coordinator serves the namespace and one of the two must be alone. */
  readonly conflict: boolean;
  readonly others: PresenceRecord[];
}

export class Presence {
  readonly #redis: Redis;
  readonly #key: string;
  #record: PresenceRecord;

  constructor(redis: Redis, key: string, record: PresenceRecord) {
    this.#redis = redis;
    this.#key = key;
    this.#record = record;
    redis.defineCommand('ratesyncPresence', { numberOfKeys: 1, lua: SCRIPT });
  }

  /** Registers this coordinator unless that would be a conflict (then it is not registered). */
  join(): Promise<PresenceResult> {
    return this.#run('join');
  }

  /**
   * Registers again with another `exclusive` flag (a reload changed where limiters live). Turning
   * it on fails, leaving the registration as it was, when another coordinator serves the namespace.
   */
  async change(exclusive: boolean): Promise<PresenceResult> {
    const previous = this.#record;
    this.#record = { ...previous, exclusive };
    const result = await this.#run('join').catch((err: unknown) => {
      this.#record = previous;
      throw err;
    });
    if (result.conflict) this.#record = previous;
    return result;
  }

  /** Refreshes the registration; reports a conflict without refusing. */
  beat(): Promise<PresenceResult> {
    return this.#run('beat');
  }

  async leave(): Promise<void> {
    await this.#run('leave');
  }

  async #run(mode: 'join' | 'beat' | 'leave'): Promise<PresenceResult> {
    const run = (this.#redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown[]>>)['ratesyncPresence'];
    const reply = (await run!.call(
      this.#redis,
      this.#key,
      this.#record.id,
      JSON.stringify(this.#record),
      PRESENCE_TTL_MS,
      mode,
      this.#record.exclusive ? '1' : '0',
    )) as [number, ...string[]];
    const [conflict, ...others] = reply;
    return { conflict: conflict === 1, others: others.map((json) => JSON.parse(json) as PresenceRecord) };
  }
}
