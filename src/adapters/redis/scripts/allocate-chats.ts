import { LUA_ANSWER_SEEN } from "../idempotency.js";
import { LuaScript } from "../lua-script.js";
import { FENCE_LUA } from "./fence-lua.js";

/**
 * One application's chat creates, atomic: numbers and idempotency keys, in
 * the application's slot. (Each new chat's message counter lives in the
 * chat's own slot: RedisSequencer creates it right after.)
 *
 * KEYS: 1 the slot's epoch marker, 2 the application's chat counter, 3… one
 * idempotency key per keyed create. ARGV: 1 now (ms), 2 idempotency TTL (s),
 * then per create: a fingerprint of its name, index of its key in KEYS (0
 * without one).
 *
 * Reply: {-3} recovering, {-2} needs seed, else {0, then per create: outcome
 * (0 created, 1 repeat, 2 conflict), number, createdAt}.
 */
export const allocateChats = new LuaScript(`${FENCE_LUA}${LUA_ANSWER_SEEN}
local epoch = fence_epoch(KEYS[1])
if not epoch then return {-3} end
local chats = counter_value(KEYS[2], epoch)
if not chats then return {-2} end
local now = tonumber(ARGV[1])
local reply = {0}
for i = 3, #ARGV, 2 do
  local fingerprint = ARGV[i]
  local k = tonumber(ARGV[i + 1])
  local seen = k > 0 and redis.call('GET', KEYS[k]) or false
  if seen then
    answer_seen(reply, seen, fingerprint)
  else
    chats = chats + 1
    if k > 0 then redis.call('SET', KEYS[k], chats .. ':' .. now .. ':' .. fingerprint, 'EX', ARGV[2]) end
    table.insert(reply, 0) table.insert(reply, chats) table.insert(reply, now)
  end
end
redis.call('HSET', KEYS[2], 'n', chats)
return reply
`);
