import { LuaScript } from "../lua-script.js";
import { FENCE_LUA } from "./fence-lua.js";

/**
 * Restores a counter from the store's maximum: only where it is absent or
 * stale (so never lowering a valid one), and to at least what a stale one
 * held (numbers it handed out may never have reached the store). Does
 * nothing while the slot is fenced.
 *
 * KEYS: 1 the slot's epoch marker, 2 the counter. ARGV: 1 the store's maximum.
 */
export const seedCounter = new LuaScript(`${FENCE_LUA}
local epoch = fence_epoch(KEYS[1])
if not epoch then return 0 end
local fields = redis.call('HMGET', KEYS[2], 'n', 'e')
if fields[2] == epoch then return 0 end
redis.call('HSET', KEYS[2], 'n', math.max(tonumber(fields[1] or '0'), tonumber(ARGV[1])), 'e', epoch)
return 1
`);
