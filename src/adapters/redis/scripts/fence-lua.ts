/**
 * Lua helpers the numbering scripts start with (prepended to their source).
 *
 * A slot's epoch marker holds `<epoch>:<run_id of the server that wrote it>`.
 * It counts only on the server process that wrote it: a promoted replica, or
 * a server restarted from a file, has another run_id and may lack the last
 * increments (replication and AOF are asynchronous), so for it the slot is
 * fenced until a recovery rewrites the marker. Counters are hashes
 * {n, e = the epoch they were last seeded under}; one from another epoch is
 * stale (left from before a recovery) and is re-seeded, never trusted.
 */
export const FENCE_LUA = `
local function run_id()
  return string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
end
local function epoch_of(value, run)
  if not value then return nil end
  local epoch, writer = string.match(value, '^([^:]+):(%x+)$')
  if writer ~= run then return nil end
  return epoch
end
local function fence_epoch(marker)
  return epoch_of(redis.call('GET', marker), run_id())
end
local function counter_value(key, epoch)
  local fields = redis.call('HMGET', key, 'n', 'e')
  if fields[2] ~= epoch then return nil end
  return tonumber(fields[1])
end
`;
