import { LuaScript } from "../lua-script.js";

/**
 * Puts an edited entry (or a tombstone) unless the log holds a fresher one
 * (last writer wins by updatedAt, the entry's 4th field) or a tombstone (its
 * 2nd field false: a deletion is final, whatever an edit racing it says),
 * and publishes it live (SPUBLISH on the chat's shard channel): one step.
 * Outside the epoch fence: it takes no number and moves no counter, and the
 * number it writes under was looked up before (an edit or delete of a
 * message that exists).
 *
 * KEYS: 1 the chat's log. ARGV: 1 number, 2 updatedAt, 3 packed entry,
 * 4 entries kept, 5 log TTL (s), 6 channel, 7 the live frame.
 */
export const editMessage = new LuaScript(`
local current = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])[1]
if current then
  local entry = cmsgpack.unpack(current)
  if entry[2] == false or entry[4] > tonumber(ARGV[2]) then return 0 end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[4]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('SPUBLISH', ARGV[6], ARGV[7])
return 1
`);
