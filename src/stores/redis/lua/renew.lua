--[[
renew (layout v1): extends leases whose holders are alive. A lease that already expired (its
holder was presumed dead and its units may have been granted again) is not revived.

KEYS[1]  <prefix>:v1:{K}:c  concurrency leases (zset)
ARGV[1]  now override in ms since the base epoch; '' = Redis TIME (always, except in tests)
ARGV[2]  lease_ms: the new lifetime, from now
ARGV[3..] lease ids

Output: { 0, lost id, ... }: the ids that were no longer held
On a problem: { 1, key, found type, expected type } | { 2, message }.
]]

return run(function()
  local now, overridden = clock(ARGV[1])
  local lease_ms = opt(ARGV[2])
  if lease_ms == nil then fail(BAD_ARGUMENT, 'lease_ms is required') end
  check_type(KEYS[1], 'zset')
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now))
  local expiry = fmt(now + lease_ms)
  local reply, renewed = { OK }, false
  for i = 3, #ARGV do
    local id = ARGV[i]
    if redis.call('ZSCORE', KEYS[1], id) then
      redis.call('ZADD', KEYS[1], 'XX', expiry, id)
      local k = 2
      while redis.call('ZSCORE', KEYS[1], id .. '#' .. k) do
        redis.call('ZADD', KEYS[1], 'XX', expiry, id .. '#' .. k)
        k = k + 1
      end
      renewed = true
    else
      reply[#reply + 1] = id
    end
  end
  if renewed then leases_expire(KEYS[1], now, overridden) end
  return reply
end)
