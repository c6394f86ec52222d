import { LuaScript } from "../lua-script.js";
import { HEARTBEAT_LUA } from "./heartbeat-lua.js";

/** Hands out a new mark. KEYS: 1 the mark. */
export const observe = new LuaScript(`${HEARTBEAT_LUA}
local n = current_mark(KEYS[1]) + 1
redis.call('HSET', KEYS[1], 'n', n)
return n
`);
