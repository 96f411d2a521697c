--[[
release (layout v1): returns a lease. Unknown or already released leases change nothing, so
over-release never raises capacity. When something was freed, says so on the store's channel,
so that the coordinators of other hosts wake the waiters of this key at once.

KEYS[1]  <prefix>:v1:{K}:c  concurrency leases (zset)
ARGV[1]  lease id
ARGV[2]  channel to PUBLISH on when units were freed ('' = none)
ARGV[3]  message: "<store instance id> <limiter key>"

Output: { 0, units freed }
On a problem: { 1, key, found type, expected type }.
]]

return run(function()
  check_type(KEYS[1], 'zset')
  local freed = redis.call('ZREM', KEYS[1], ARGV[1])
  if freed == 1 then
    local k = 2
    while redis.call('ZREM', KEYS[1], ARGV[1] .. '#' .. k) == 1 do
      freed = freed + 1
      k = k + 1
    end
    if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
  end
  return { OK, freed }
end)
