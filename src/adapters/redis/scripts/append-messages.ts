import { LUA_ANSWER_SEEN } from "../idempotency.js";
import { LuaScript } from "../lua-script.js";
import { FENCE_LUA } from "./fence-lua.js";

/**
 * One chat's append, atomic, in the chat's slot: numbers, idempotency keys,
 * the recent window and the live publish of the batch (SPUBLISH on the
 * chat's shard channel, which carries the same hash tag).
 *
 * KEYS: 1 the slot's epoch marker, 2 the chat's message counter, 3 the chat's
 * log (sorted set by number), 4… one idempotency key per keyed send. ARGV:
 * 1 now (ms), 2 entries kept, 3 log TTL (s), 4 idempotency TTL (s), 5 channel,
 * then per send: body, index of its key in KEYS (0 without one), sender id
 * and sender name ('' for none: the entry then has 4 fields, else 6, see
 * domain/live-batch.ts).
 *
 * Reply: {-3} recovering, {-2} no valid counter (a chat that does not exist,
 * or one to re-seed: the caller tells which), else {0, then per send: outcome
 * (0 created, 1 repeat, 2 conflict), number, createdAt}.
 */
export const appendMessages = new LuaScript(`${FENCE_LUA}${LUA_ANSWER_SEEN}
local epoch = fence_epoch(KEYS[1])
if not epoch then return {-3} end
local number = counter_value(KEYS[2], epoch)
if not number then return {-2} end
local now = tonumber(ARGV[1])
local reply = {0}
local created = {}
for i = 6, #ARGV, 4 do
  local body = ARGV[i]
  local k = tonumber(ARGV[i + 1])
  local fingerprint, seen = nil, false
  if k > 0 then
    fingerprint = redis.sha1hex(body)
    seen = redis.call('GET', KEYS[k])
  end
  if seen then
    answer_seen(reply, seen, fingerprint)
  else
    number = number + 1
    local entry = {number, body, now, now}
    if ARGV[i + 2] ~= '' then
      entry[5] = ARGV[i + 2]
      if ARGV[i + 3] ~= '' then entry[6] = ARGV[i + 3] else entry[6] = false end
    end
    redis.call('ZADD', KEYS[3], number, cmsgpack.pack(entry))
    table.insert(created, entry)
    if k > 0 then redis.call('SET', KEYS[k], number .. ':' .. now .. ':' .. fingerprint, 'EX', ARGV[4]) end
    table.insert(reply, 0) table.insert(reply, number) table.insert(reply, now)
  end
end
if #created > 0 then
  redis.call('HSET', KEYS[2], 'n', number)
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -tonumber(ARGV[2]) - 1)
  redis.call('EXPIRE', KEYS[3], ARGV[3])
  redis.call('SPUBLISH', ARGV[5], cmsgpack.pack({1, created}))
end
return reply
`);
