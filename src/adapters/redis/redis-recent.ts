import type { Redis } from "ioredis";
import { pack, unpack } from "msgpackr";
import type { Chat, Message } from "../../domain/types.js";
import type { RecentCache } from "../../ports/recent.js";
import type { RedisKeys } from "./keys.js";
import { LuaScript } from "./lua-script.js";

/**
 * Puts (number, updatedAt, packed) triples: a member replaces the one at its
 * number unless that one is fresher (its updatedAt, at position ARGV[3] of the
 * packed array, is greater), so concurrent edits settle last-writer-wins.
 * Keeps the newest ARGV[1] numbers and refreshes the TTL ARGV[2].
 */
const putScored = new LuaScript(`
local at = tonumber(ARGV[3])
for i = 4, #ARGV, 3 do
  local current = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i])[1]
  if not current or cmsgpack.unpack(current)[at] <= tonumber(ARGV[i + 1]) then
    redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i])
    redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 2])
  end
end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[1]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`);

/** 1-based positions of updatedAt in the packed arrays, for the script. */
const MESSAGE_UPDATED_AT = 4;
const CHAT_UPDATED_AT = 5;

type PackedMessage = [number, string, number, number];
type PackedChat = [number, string | null, number, number, number];

/** Recent writes in one sorted set per chat (and one per application for chats),
 * scored by number, each member the packed entity. Bounded by count and TTL. */
export class RedisRecentCache implements RecentCache {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly perKey: number,
    private readonly ttlSeconds: number,
  ) {}

  async putChats(chats: Chat[]): Promise<void> {
    await this.putGrouped(chats, CHAT_UPDATED_AT, (c) => this.keys.recentChats(c.app), (c) => pack([c.number, c.name, c.messagesCount, c.createdAt, c.updatedAt] satisfies PackedChat));
  }

  async putMessages(messages: Message[]): Promise<void> {
    await this.putGrouped(messages, MESSAGE_UPDATED_AT, (m) => this.keys.recentMessages(m.app, m.chat), (m) => pack([m.number, m.body, m.createdAt, m.updatedAt] satisfies PackedMessage));
  }

  async getChat(app: string, number: number): Promise<Chat | null> {
    const [member] = await this.redis.zrangebyscoreBuffer(this.keys.recentChats(app), number, number);
    return member ? toChat(app, member) : null;
  }

  async listChats(app: string, after: number, limit: number): Promise<Chat[]> {
    const members = await this.redis.zrangebyscoreBuffer(this.keys.recentChats(app), `(${after}`, "+inf", "LIMIT", 0, limit);
    return members.map((m) => toChat(app, m));
  }

  async getMessage(app: string, chat: number, number: number): Promise<Message | null> {
    const [member] = await this.redis.zrangebyscoreBuffer(this.keys.recentMessages(app, chat), number, number);
    return member ? toMessage(app, chat, member) : null;
  }

  async listMessages(app: string, chat: number, after: number, before: number, limit: number, descending: boolean): Promise<Message[]> {
    const key = this.keys.recentMessages(app, chat);
    const upper = before >= Number.MAX_SAFE_INTEGER ? "+inf" : `(${before}`;
    const members = descending
      ? await this.redis.zrevrangebyscoreBuffer(key, upper, `(${after}`, "LIMIT", 0, limit)
      : await this.redis.zrangebyscoreBuffer(key, `(${after}`, upper, "LIMIT", 0, limit);
    return members.map((m) => toMessage(app, chat, m));
  }

  private async putGrouped<T extends { number: number; updatedAt: number }>(
    items: T[],
    updatedAtPosition: number,
    keyOf: (item: T) => string,
    encode: (item: T) => Buffer,
  ): Promise<void> {
    const groups = new Map<string, (string | number | Buffer)[]>();
    for (const item of items) {
      const key = keyOf(item);
      let args = groups.get(key);
      if (!args) groups.set(key, (args = [this.perKey, this.ttlSeconds, updatedAtPosition]));
      args.push(item.number, item.updatedAt, encode(item));
    }
    await Promise.all([...groups].map(([key, args]) => putScored.run(this.redis, [key], args)));
  }
}

function toMessage(app: string, chat: number, member: Buffer): Message {
  const [number, body, createdAt, updatedAt] = unpack(member) as PackedMessage;
  return { app, chat, number, body, createdAt, updatedAt };
}

function toChat(app: string, member: Buffer): Chat {
  const [number, name, messagesCount, createdAt, updatedAt] = unpack(member) as PackedChat;
  return { app, number, name, messagesCount, createdAt, updatedAt };
}
