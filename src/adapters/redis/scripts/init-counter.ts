import { LuaScript } from "../lua-script.js";
import { FENCE_LUA } from "./fence-lua.js";

/**
 * Creates a counter at 0 for something new (an application, a chat), only if
 * absent and only if the slot's marker still holds the value the caller read
 * before it numbered that new thing: then no recovery happened since, so an
 * absent counter cannot be a lost one. ARGV[1] empty skips that comparison
 * (a new application: nobody knows its token before this returns).
 *
 * KEYS: 1 the slot's epoch marker, 2 the counter. ARGV: 1 expected marker value.
 * Reply: {1} done (or already there), {0, current marker value or ''} refused.
 */
export const initCounter = new LuaScript(`${FENCE_LUA}
local value = redis.call('GET', KEYS[1])
local epoch = fence_epoch(KEYS[1])
if not epoch or (ARGV[1] ~= '' and value ~= ARGV[1]) then return {0, value or ''} end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('HSET', KEYS[2], 'n', 0, 'e', epoch) end
return {1}
`);
