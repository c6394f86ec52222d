import { LuaScript } from "../lua-script.js";
import { FENCE_LUA } from "./fence-lua.js";

/**
 * An application's chat counter, if valid: tells a chat that does not exist
 * from one whose message counter must be re-seeded.
 *
 * KEYS: 1 the slot's epoch marker, 2 the chat counter.
 * Reply: -3 recovering, -2 needs seed, else the number of chats.
 */
export const chatCount = new LuaScript(`${FENCE_LUA}
local epoch = fence_epoch(KEYS[1])
if not epoch then return -3 end
return counter_value(KEYS[2], epoch) or -2
`);
