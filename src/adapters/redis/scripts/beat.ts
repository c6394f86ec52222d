import { LuaScript } from "../lua-script.js";
import { HEARTBEAT_LUA } from "./heartbeat-lua.js";

/**
 * Stores one worker's report and answers the current mark, in one step; drops
 * reports that expired (their workers are gone).
 *
 * KEYS: 1 the reports (hash: worker → "mark:inFlight:expiresAt"), 2 the mark.
 * ARGV: 1 worker, 2 the mark it carries, 3 writes it holds, 4 report TTL (ms).
 */
export const beat = new LuaScript(`${HEARTBEAT_LUA}
local now = now_ms()
local reports = redis.call('HGETALL', KEYS[1])
for i = 1, #reports, 2 do
  if tonumber(string.match(reports[i + 1], ':(%d+)$')) <= now then redis.call('HDEL', KEYS[1], reports[i]) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3] .. ':' .. (now + tonumber(ARGV[4])))
return current_mark(KEYS[2])
`);
