/**
 * Lua helpers of the heartbeat scripts (prepended to their source). Reports
 * expire on this server's own clock (TIME), the only clock they are compared
 * with. The mark is a hash {n, run}: a server process that did not hand out
 * the last marks (a promoted replica, a restart) may lack some of them, so it
 * jumps past any mark that could have been handed out before, and a report
 * carrying an old mark never counts for a new one.
 */
export const HEARTBEAT_LUA = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function current_mark(key)
  local fields = redis.call('HMGET', key, 'n', 'run')
  local n = tonumber(fields[1] or '0')
  local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
  if fields[2] ~= run then
    n = n + 4294967296
    redis.call('HSET', key, 'n', n, 'run', run)
  end
  return n
end
`;
