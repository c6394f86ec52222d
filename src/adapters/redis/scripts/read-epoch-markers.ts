import { LuaScript } from "../lua-script.js";
import { FENCE_LUA } from "./fence-lua.js";

/**
 * The epoch markers of many slots of one server: whether each fences
 * numbering, and its value. Reads keys of several slots, which Redis allows a
 * script flagged so as long as this server owns them all (else it refuses
 * the call, and the caller asks slot by slot).
 *
 * KEYS: 1 one of the markers (routes the call). ARGV: every marker.
 * Reply: per marker {1 valid | 0 fenced, value or ''}.
 */
export const readEpochMarkers = new LuaScript(`#!lua flags=allow-cross-slot-keys
${FENCE_LUA}
local run = run_id()
local reply = {}
for i = 1, #ARGV do
  local value = redis.call('GET', ARGV[i])
  table.insert(reply, {epoch_of(value, run) and 1 or 0, value or ''})
end
return reply
`);
