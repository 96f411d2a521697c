--[[
acquire (layout v1): grants a batch of requests of one limiter key, in order, all or a prefix,
in one atomic step. The first refusal stops the batch; a refused request writes nothing.

KEYS[1]  <prefix>:v1:{K}:r  GCRA arrival time (string)
KEYS[2]  <prefix>:v1:{K}:w  sliding-window log (list)
KEYS[3]  <prefix>:v1:{K}:c  concurrency leases (zset)
ARGV[1]  now override in ms since the base epoch; '' = Redis TIME (always, except in tests)
ARGV[2]  interval_ms  ms per unit (1000 / rate_per_second), '' without a rate
ARGV[3]  burst        units, '' without a rate
ARGV[4]  limit        units per window, '' without a window
ARGV[5]  window_ms    window length in ms, '' without a window
ARGV[6]  max          lease units held at once, '' without max_concurrent
ARGV[7]  lease_ms     lease lifetime in ms, '' without max_concurrent
ARGV[8]  costs: the units of each request, in FIFO order, comma-separated ("1,1,3")
ARGV[9..] lease ids, one per request, only with max_concurrent
(One string for all costs: a batch of 64 costs ~1 argument to write, not 64.)

Output: { 0, granted, retry_at, now }
  granted   how many requests, from the first, were granted
  retry_at  ms since the base epoch at which the first refused request could be granted if
            nothing else changes ('inf': only a release can help; '' when all were granted)
  now       the decision instant (ms since the base epoch)
On a problem: { 1, key, found type, expected type } | { 2, message } | { 3, key, expected }.
]]

return run(function()
  local now, overridden = clock(ARGV[1])
  local p = read_policy(ARGV, 2)
  local s = {}
  if p.interval then check_type(KEYS[1], 'string'); s.tat = load_tat(KEYS[1]) end
  if p.limit then check_type(KEYS[2], 'list'); s.log = window_open(KEYS[2], now, p, true) end
  if p.max then check_type(KEYS[3], 'zset'); s.leases = leases_open(KEYS[3], now, true) end

  local granted, retry_at = 0, nil
  for c in string.gmatch(ARGV[8], '[^,]+') do
    local cost = tonumber(c)
    if cost == nil or cost < 1 then fail(BAD_ARGUMENT, 'a cost must be a number >= 1') end
    local ok, at = decide(s, p, now, cost, ARGV[9 + granted])
    if not ok then retry_at = at; break end
    granted = granted + 1
  end

  if s.log then window_flush(s.log) end
  if s.leases then leases_flush(s.leases) end
  if granted > 0 then
    if p.interval then redis.call('SET', KEYS[1], fmt(s.tat), 'PX', ttl(s.tat - now, overridden)) end
    if p.limit then redis.call('PEXPIRE', KEYS[2], ttl(p.window_ms, overridden)) end
    if p.max then leases_expire(KEYS[3], now, overridden) end
  end
  return { OK, granted, retry_at == nil and '' or fmt(retry_at), fmt(now) }
end)
