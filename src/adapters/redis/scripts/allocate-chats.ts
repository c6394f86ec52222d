import { LUA_ANSWER_SEEN } from "../idempotency.js";
import { LuaScript } from "../lua-script.js";

/**
 * One application's chat creates, atomic: numbers, idempotency keys, and each
 * new chat's message counter at 0 (so a missing message counter later means
 * "lost", never "new").
 *
 * KEYS: 1 epoch, 2 the application's chat counter, 3… one idempotency key per
 * keyed create. ARGV: 1 now (ms), 2 idempotency TTL (s), 3 and 4 the head and
 * tail of message counter names (head .. number .. tail), then per create: a
 * fingerprint of its name, index of its key in KEYS (0 without one).
 *
 * Reply: {-3} recovering, {-2} needs seed, else {0, then per create: outcome
 * (0 created, 1 repeat, 2 conflict), number, createdAt}.
 */
export const allocateChats = new LuaScript(`${LUA_ANSWER_SEEN}
if redis.call('EXISTS', KEYS[1]) == 0 then return {-3} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {-2} end
local now = tonumber(ARGV[1])
local reply = {0}
for i = 5, #ARGV, 2 do
  local fingerprint = ARGV[i]
  local slot = tonumber(ARGV[i + 1])
  local seen = slot > 0 and redis.call('GET', KEYS[slot]) or false
  if seen then
    answer_seen(reply, seen, fingerprint)
  else
    local number = redis.call('INCR', KEYS[2])
    redis.call('SET', ARGV[3] .. number .. ARGV[4], 0, 'NX')
    if slot > 0 then redis.call('SET', KEYS[slot], number .. ':' .. now .. ':' .. fingerprint, 'EX', ARGV[2]) end
    table.insert(reply, 0) table.insert(reply, number) table.insert(reply, now)
  end
end
return reply
`);
