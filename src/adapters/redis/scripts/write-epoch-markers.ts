import { LuaScript } from "../lua-script.js";
import { FENCE_LUA } from "./fence-lua.js";

/**
 * Ends the fence of many slots of one server: a new marker stamped with this
 * server's run_id, except where a valid one is (never moving a valid slot to
 * a new epoch, which would make its counters stale for nothing). Flagged to
 * touch several slots, all owned by this server (see read-epoch-markers).
 *
 * KEYS: 1 one of the markers (routes the call). ARGV: 1 the new epoch, then
 * every marker.
 */
export const writeEpochMarkers = new LuaScript(`#!lua flags=allow-cross-slot-keys
${FENCE_LUA}
local run = run_id()
for i = 2, #ARGV do
  if not epoch_of(redis.call('GET', ARGV[i]), run) then redis.call('SET', ARGV[i], ARGV[1] .. ':' .. run) end
end
return 1
`);
