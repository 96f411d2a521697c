-- rate-sync bridge: push one request, stamped with Redis's clock (docs/bridge-protocol.md).
-- KEYS[1]: the list; ARGV[1]: the message, a JSON object of at most ARGV[2] bytes;
-- ARGV[3]: milliseconds after which the list expires (0: never).
-- The stamp "at" (Redis TIME, epoch microseconds) is written as the message's first field, so
-- the coordinator measures how long the request waited without trusting the client's clock.
local m = ARGV[1]
if #m > tonumber(ARGV[2]) then
  return redis.error_reply('ERR rate-sync bridge message of ' .. #m .. ' bytes is over the limit of ' .. ARGV[2])
end
if string.sub(m, 1, 1) ~= '{' or string.sub(m, 2, 2) == '}' then
  return redis.error_reply('ERR rate-sync bridge message must be a non-empty JSON object')
end
local t = redis.call('TIME')
local at = t[1] .. string.format('%06d', tonumber(t[2]))
redis.call('RPUSH', KEYS[1], '{"at":' .. at .. ',' .. string.sub(m, 2))
if ARGV[3] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return at
