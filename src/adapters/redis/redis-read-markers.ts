import type { RecentReadMarkers } from "../../ports/read-markers.js";
import type { RedisClient } from "./client.js";
import type { RedisKeys } from "./keys.js";
import { LuaScript } from "./lua-script.js";

/** Keeps the greater of the stored and the given number, refreshes the TTL, answers the marker: one step. */
const advance = new LuaScript(`
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
local wanted = tonumber(ARGV[2])
if wanted > current then
  redis.call('HSET', KEYS[1], ARGV[1], wanted)
  current = wanted
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return current
`);

/**
 * One hash per chat (user id → number) under the chat's hash tag, expiring
 * `ttlSeconds` after its last move. Outside the epoch fence: a marker takes
 * no number, and the marker read is the greater of this and MySQL's, so one
 * lost in a failover reads back from MySQL (docs/DESIGN.md, Redis Cluster).
 */
export class RedisReadMarkers implements RecentReadMarkers {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly ttlSeconds: number,
  ) {}

  async advance(app: string, chat: number, user: string, number: number): Promise<number> {
    return Number(await advance.run(this.redis, [this.keys.readMarkers(app, chat)], [user, number, this.ttlSeconds]));
  }

  async get(app: string, chat: number, user: string): Promise<number | null> {
    const value = await this.redis.hget(this.keys.readMarkers(app, chat), user);
    return value === null ? null : Number(value);
  }
}
