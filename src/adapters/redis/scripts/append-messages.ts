import { LUA_ANSWER_SEEN } from "../idempotency.js";
import { LuaScript } from "../lua-script.js";

/**
 * One chat's append, atomic: numbers, idempotency keys, the recent window and
 * the live publish of the batch.
 *
 * KEYS: 1 epoch, 2 the application's chat counter, 3 the chat's message
 * counter, 4 the chat's log (sorted set by number), 5… one idempotency key per
 * keyed send. ARGV: 1 chat number, 2 now (ms), 3 entries kept, 4 log TTL (s),
 * 5 idempotency TTL (s), 6 channel, then per send: body, index of its key in
 * KEYS (0 without one), sender id and sender name ('' for none: the entry
 * then has 4 fields, else 6, see domain/live-batch.ts).
 *
 * Reply: {-3} recovering, {-2} needs seed, {-1} no such chat, else {0, then
 * per send: outcome (0 created, 1 repeat, 2 conflict), number, createdAt}.
 */
export const appendMessages = new LuaScript(`${LUA_ANSWER_SEEN}
if redis.call('EXISTS', KEYS[1]) == 0 then return {-3} end
if redis.call('EXISTS', KEYS[3]) == 0 then
  local chats = redis.call('GET', KEYS[2])
  if chats and tonumber(ARGV[1]) > tonumber(chats) then return {-1} end
  return {-2}
end
local now = tonumber(ARGV[2])
local reply = {0}
local created = {}
for i = 7, #ARGV, 4 do
  local body = ARGV[i]
  local slot = tonumber(ARGV[i + 1])
  local fingerprint, seen = nil, false
  if slot > 0 then
    fingerprint = redis.sha1hex(body)
    seen = redis.call('GET', KEYS[slot])
  end
  if seen then
    answer_seen(reply, seen, fingerprint)
  else
    local number = redis.call('INCR', KEYS[3])
    local entry = {number, body, now, now}
    if ARGV[i + 2] ~= '' then
      entry[5] = ARGV[i + 2]
      if ARGV[i + 3] ~= '' then entry[6] = ARGV[i + 3] else entry[6] = false end
    end
    redis.call('ZADD', KEYS[4], number, cmsgpack.pack(entry))
    table.insert(created, entry)
    if slot > 0 then redis.call('SET', KEYS[slot], number .. ':' .. now .. ':' .. fingerprint, 'EX', ARGV[5]) end
    table.insert(reply, 0) table.insert(reply, number) table.insert(reply, now)
  end
end
if #created > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -tonumber(ARGV[3]) - 1)
  redis.call('EXPIRE', KEYS[4], ARGV[4])
  redis.call('PUBLISH', ARGV[6], cmsgpack.pack({1, created}))
end
return reply
`);
