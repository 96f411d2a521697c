--[[
inspect (layout v1): reads a limiter key's state without writing anything
(inspect() in src/algorithms/policy.ts).

KEYS[1..3], ARGV[1..7]: as for acquire (no requests).

Output: { 0, now, remaining, retry_at, reset_at, in_flight }
  now        the instant of the reading (ms since the base epoch)
  remaining  whole units that could be granted now ('inf' for a policy without limits)
  retry_at   when one more unit could be granted (= now when it can be now)
  reset_at   when the key is back to full capacity if nothing else is granted
  in_flight  lease units held
On a problem: { 1, key, found type, expected type } | { 2, message } | { 3, key, expected }.
]]

return run(function()
  local now = clock(ARGV[1])
  local p = read_policy(ARGV, 2)
  local remaining, retry_at, reset_at, in_flight = INF, now, now, 0
  if p.interval then
    check_type(KEYS[1], 'string')
    local tat = load_tat(KEYS[1])
    remaining = gcra_remaining(tat, now, p)
    if remaining < 1 then retry_at = math.max(retry_at, gcra_ready_at(tat, now, 1, p)) end
    if tat ~= nil then reset_at = math.max(reset_at, tat) end
  end
  if p.limit then
    check_type(KEYS[2], 'list')
    local log = window_open(KEYS[2], now, p, false)
    remaining = math.min(remaining, p.limit - log.total)
    if log.head_t ~= nil then
      if log.total >= p.limit then retry_at = math.max(retry_at, log.head_t + p.window_ms) end
      reset_at = math.max(reset_at, log.tail_t + p.window_ms)
    end
  end
  if p.max then
    check_type(KEYS[3], 'zset')
    local leases = leases_open(KEYS[3], now, false)
    in_flight = leases.used
    if in_flight >= p.max then retry_at = math.max(retry_at, lease_ready_at(leases, now, 1, p)) end
    remaining = math.min(remaining, p.max - in_flight)
  end
  return { OK, fmt(now), fmt(math.max(0, remaining)), fmt(retry_at), fmt(reset_at), in_flight }
end)
