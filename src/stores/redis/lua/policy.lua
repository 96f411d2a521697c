--[[
rate-sync Redis layout v1: the policy functions every entry script starts with.

This is the Lua twin of src/algorithms/{gcra,sliding-window,leases,policy}.ts: the same
formulas in the same order, so that both copies decide alike. test/vectors/policy.json and a
differential test (test/integration/redis-lua.test.ts) run both and compare every answer.

Units: every time is a float number of milliseconds since BASE_EPOCH_S (2025-01-01T00:00:00Z,
Unix seconds 1735689600), taken from Redis TIME. Small numbers on purpose: a double resolves
~1e-5 ms here (for the next ~15 years), far below EPSILON_MS, whereas epoch milliseconds
(1.7e12) resolve only ~2.4e-4 ms. Numbers travel as strings formatted with %.17g, which
round-trips a double exactly; 'inf' stands for +infinity.

State of limiter key K (all keys share the hash tag {K}, so a script touches one slot):
  <prefix>:v1:{K}:r  string  GCRA theoretical arrival time (ms)
  <prefix>:v1:{K}:w  list    sliding-window log, oldest first; entries "<t> <units> <running total>"
  <prefix>:v1:{K}:c  zset    concurrency leases: one member per unit ("<id>", "<id>#2", ...),
                             scored by expiry (ms)
Every key expires (PEXPIRE) once it can no longer change a decision.
]]

local EPSILON_MS = 1e-4
local BASE_EPOCH_S = 1735689600
local INF = math.huge
-- With a `now` override (tests only), keys outlive the virtual time the test jumps over.
local TEST_TTL_FLOOR_MS = 3600000

-- Status codes, the first element of every reply (mirrored in scripts.ts: STATUS).
local OK, WRONG_TYPE, BAD_ARGUMENT, CORRUPT = 0, 1, 2, 3

local function fail(...)
  error({ ratesync = { ... } })
end

local function fmt(n)
  if n == INF then return 'inf' end
  if n == -INF then return '-inf' end
  return string.format('%.17g', n)
end

-- An optional numeric argument: '' means "this part of the policy is absent".
local function opt(s)
  if s == nil or s == '' then return nil end
  local n = tonumber(s)
  if n == nil then fail(BAD_ARGUMENT, 'not a number: ' .. s) end
  return n
end

-- Redis's own clock, or the caller's `now` (tests only). Returns now, overridden.
local function clock(override)
  if override ~= nil and override ~= '' then return tonumber(override), true end
  local t = redis.call('TIME')
  return (tonumber(t[1]) - BASE_EPOCH_S) * 1000 + tonumber(t[2]) / 1000, false
end

local function ttl(ms, overridden)
  local t = math.max(1, math.ceil(ms))
  if overridden then t = math.max(t, TEST_TTL_FLOOR_MS) end
  return t
end

local function check_type(key, expected)
  local found = redis.call('TYPE', key)['ok']
  if found ~= 'none' and found ~= expected then fail(WRONG_TYPE, key, found, expected) end
end

-- ARGV[i..i+5]: interval_ms, burst, limit, window_ms, max, lease_ms ('' where absent).
local function read_policy(argv, i)
  local p = {
    interval = opt(argv[i]), burst = opt(argv[i + 1]),
    limit = opt(argv[i + 2]), window_ms = opt(argv[i + 3]),
    max = opt(argv[i + 4]), lease_ms = opt(argv[i + 5]),
  }
  if (p.interval == nil) ~= (p.burst == nil) or (p.limit == nil) ~= (p.window_ms == nil)
      or (p.max == nil) ~= (p.lease_ms == nil) then
    fail(BAD_ARGUMENT, 'incomplete policy arguments')
  end
  return p
end

---------------------------------------------------------------------------------------------
-- GCRA (src/algorithms/gcra.ts)

local function load_tat(key)
  local v = redis.call('GET', key)
  if not v then return nil end
  local n = tonumber(v)
  if n == nil then fail(CORRUPT, key, 'a number of milliseconds (GCRA arrival time)') end
  return n
end

local function gcra_ready_at(tat, now, cost, p)
  if cost > p.burst then return INF end
  if tat == nil or tat <= now then return now end
  return tat + (cost - p.burst) * p.interval
end

local function gcra_take(tat, now, cost, p)
  local base = now
  if tat ~= nil and tat >= now then base = tat end
  return base + cost * p.interval
end

local function gcra_remaining(tat, now, p)
  if tat == nil or tat <= now then return p.burst end
  local free = (now - (tat - p.burst * p.interval)) / p.interval
  return math.max(0, math.min(p.burst, math.floor(free + EPSILON_MS)))
end

---------------------------------------------------------------------------------------------
-- Sliding-window log (src/algorithms/sliding-window.ts)

local function parse_entry(key, e)
  local t, u, c = string.match(e, '^(%S+) (%S+) (%S+)$')
  t, u, c = tonumber(t), tonumber(u), tonumber(c)
  if t == nil or u == nil or c == nil then fail(CORRUPT, key, 'window log entries "<ms> <units> <running total>"') end
  return t, u, c
end

-- Calls visit(t, u) on entries from index `from` on (chunked LRANGE: O(1) per entry);
-- returns the index at which visit returned true, or the list length.
local function window_scan(key, from, visit)
  local i = from
  while true do
    local chunk = redis.call('LRANGE', key, i, i + 31)
    if #chunk == 0 then return i end
    for j = 1, #chunk do
      local t, u = parse_entry(key, chunk[j])
      if visit(t, u) then return i + j - 1 end
    end
    i = i + #chunk
  end
end

-- The live part of the log at `now`. `writable`: drop the expired entries (windowPrune).
local function window_open(key, now, p, writable)
  local log = { key = key, head = 0, total = 0 }
  local head_t
  local idx = window_scan(key, 0, function(t)
    if t + p.window_ms > now then head_t = t; return true end
  end)
  if head_t ~= nil then
    local _, hu, hc = parse_entry(key, redis.call('LINDEX', key, idx))
    local tt, tu, tc = parse_entry(key, redis.call('LINDEX', key, -1))
    log.total = tc - hc + hu
    log.head_t, log.tail_t, log.tail_u, log.tail_c = head_t, tt, tu, tc
  end
  if writable and idx > 0 then
    if head_t == nil then redis.call('DEL', key) else redis.call('LTRIM', key, idx, -1) end
  else
    log.head = idx
  end
  return log
end

-- Grants of one call share one instant, so they are written as one entry, once (window_flush):
-- the list is read again only when a request is refused, which ends the call.
local function window_flush(log)
  if log.pending == nil then return end
  local e = fmt(log.tail_t) .. ' ' .. fmt(log.tail_u) .. ' ' .. fmt(log.tail_c)
  if log.pending_new then redis.call('RPUSH', log.key, e) else redis.call('LSET', log.key, -1, e) end
  log.pending, log.pending_new = nil, nil
end

local function window_ready_at(log, now, cost, p)
  if cost > p.limit then return INF end
  local excess = log.total + cost - p.limit
  if excess <= 0 then return now end
  window_flush(log)
  local at = INF
  window_scan(log.key, log.head, function(t, u)
    excess = excess - u
    if excess <= 0 then at = t + p.window_ms; return true end
  end)
  return at
end

local function window_take(log, now, cost)
  -- Grants at the same instant share one entry, as in windowTake.
  if log.tail_t ~= nil and log.tail_t == now then
    log.tail_u, log.tail_c = log.tail_u + cost, log.tail_c + cost
  else
    window_flush(log)
    log.tail_t, log.tail_u, log.tail_c = now, cost, (log.tail_c or 0) + cost
    if log.head_t == nil then log.head_t = now end
    log.pending_new = true
  end
  log.pending = true
  log.total = log.total + cost
end

---------------------------------------------------------------------------------------------
-- Concurrency leases (src/algorithms/leases.ts). One zset member per unit, so the number of
-- units held is ZCARD and the k-th unit to expire is one ZRANGE away.

local function leases_open(key, now, writable)
  if writable then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now))
    return { key = key, used = redis.call('ZCARD', key) }
  end
  return { key = key, used = redis.call('ZCOUNT', key, '(' .. fmt(now), '+inf') }
end

-- Lease members of one call are added in one ZADD (leases_flush): the set is read again only
-- when a request is refused, which ends the call.
local function leases_flush(leases)
  local args = leases.pending
  if args == nil then return end
  for i = 1, #args, 2000 do
    redis.call('ZADD', leases.key, unpack(args, i, math.min(i + 1999, #args)))
  end
  leases.pending = nil
end

local function lease_ready_at(leases, now, units, p)
  if units > p.max then return INF end
  local excess = leases.used + units - p.max
  if excess <= 0 then return now end
  leases_flush(leases)
  local r = redis.call('ZRANGEBYSCORE', leases.key, '(' .. fmt(now), '+inf', 'WITHSCORES', 'LIMIT', excess - 1, 1)
  if r[2] then return tonumber(r[2]) end
  return INF
end

local function lease_members(id, units)
  local members = { id }
  for k = 2, units do members[k] = id .. '#' .. k end
  return members
end

local function lease_take(leases, now, id, units, p)
  local expiry = fmt(now + p.lease_ms)
  local args = leases.pending or {}
  for _, m in ipairs(lease_members(id, units)) do
    args[#args + 1] = expiry
    args[#args + 1] = m
  end
  leases.pending = args
  leases.used = leases.used + units
end

-- Makes the lease key live exactly as long as its last lease.
local function leases_expire(key, now, overridden)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', key, ttl(tonumber(last[2]) - now, overridden)) end
end

---------------------------------------------------------------------------------------------
-- The combined decision (decide() in src/algorithms/policy.ts). State changes only on a grant.

local function decide(s, p, now, cost, lease_id)
  local retry_at = -INF
  if p.interval then
    local at = gcra_ready_at(s.tat, now, cost, p)
    if at > now + EPSILON_MS then retry_at = at end
  end
  if p.limit then
    local at = window_ready_at(s.log, now, cost, p)
    if at > now and at > retry_at then retry_at = at end
  end
  if p.max then
    local at = lease_ready_at(s.leases, now, cost, p)
    if at > now and at > retry_at then retry_at = at end
  end
  if retry_at > now then return false, retry_at end

  if p.interval then s.tat = gcra_take(s.tat, now, cost, p) end
  if p.limit then window_take(s.log, now, cost) end
  if p.max then
    if lease_id == nil or lease_id == '' then fail(BAD_ARGUMENT, 'a lease id is required by a policy with max_concurrent') end
    lease_take(s.leases, now, lease_id, cost, p)
  end
  return true
end

-- Runs `main`; a fail(...) becomes the reply, any other error stays an error.
local function run(main)
  local ok, reply = pcall(main)
  if ok then return reply end
  if type(reply) == 'table' and reply.ratesync ~= nil then return reply.ratesync end
  error(reply)
end
