import { LuaScript } from "../lua-script.js";
import { HEARTBEAT_LUA } from "./heartbeat-lua.js";

/**
 * How many live workers reported holding nothing at a mark or later; -1 while
 * any live one holds writes or has not reported since. Expired reports are
 * gone workers.
 *
 * KEYS: 1 the reports. ARGV: 1 the mark.
 */
export const idleWorkers = new LuaScript(`${HEARTBEAT_LUA}
local now = now_ms()
local mark = tonumber(ARGV[1])
local idle = 0
local reports = redis.call('HGETALL', KEYS[1])
for i = 1, #reports, 2 do
  local reported, held, expires = string.match(reports[i + 1], '^(%d+):(%d+):(%d+)$')
  if tonumber(expires) > now then
    if tonumber(reported) < mark or tonumber(held) ~= 0 then return -1 end
    idle = idle + 1
  end
end
return idle
`);
