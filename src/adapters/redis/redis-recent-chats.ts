import { pack } from "msgpackr";
import { unpackLog } from "../../domain/live-batch.js";
import type { Chat } from "../../domain/types.js";
import type { RecentChats } from "../../ports/recent-chats.js";
import type { RedisClient } from "./client.js";
import type { RedisKeys } from "./keys.js";
import { LuaScript } from "./lua-script.js";

/**
 * Puts (number, updatedAt, packed) triples: a member replaces the one at its
 * number unless that one is fresher (its updatedAt, the 5th field of the
 * packed array), so concurrent renames settle last-writer-wins. Keeps the
 * newest ARGV[1] numbers and refreshes the TTL ARGV[2].
 */
const putChats = new LuaScript(`
for i = 3, #ARGV, 3 do
  local current = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i])[1]
  if not current or cmsgpack.unpack(current)[5] <= tonumber(ARGV[i + 1]) then
    redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i])
    redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 2])
  end
end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[1]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`);

type PackedChat = [number, string | null, number, number, number];

/** Recent chats in one sorted set per application, scored by number, each member the packed chat. */
export class RedisRecentChats implements RecentChats {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly perApp: number,
    private readonly ttlSeconds: number,
  ) {}

  async putChats(chats: Chat[]): Promise<void> {
    const groups = new Map<string, (string | number | Buffer)[]>();
    for (const c of chats) {
      let args = groups.get(c.app);
      if (!args) groups.set(c.app, (args = [this.perApp, this.ttlSeconds]));
      args.push(c.number, c.updatedAt, pack([c.number, c.name, c.messagesCount, c.createdAt, c.updatedAt] satisfies PackedChat));
    }
    await Promise.all([...groups].map(([app, args]) => putChats.run(this.redis, [this.keys.recentChats(app)], args)));
  }

  async getChat(app: string, number: number): Promise<Chat | null> {
    const [member] = await this.redis.zrangebyscoreBuffer(this.keys.recentChats(app), number, number);
    return member ? toChat(app, member) : null;
  }

  async listChats(app: string, after: number, limit: number): Promise<Chat[]> {
    const members = await this.redis.zrangebyscoreBuffer(this.keys.recentChats(app), `(${after}`, "+inf", "LIMIT", 0, limit);
    return members.map((m) => toChat(app, m));
  }
}

function toChat(app: string, member: Buffer): Chat {
  const [number, name, messagesCount, createdAt, updatedAt] = unpackLog(member) as PackedChat;
  return { app, number, name, messagesCount, createdAt, updatedAt };
}
