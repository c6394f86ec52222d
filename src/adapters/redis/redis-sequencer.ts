import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Allocation, Sequencer } from "../../ports/sequencer.js";
import type { RedisKeys } from "./keys.js";
import { LuaScript } from "./lua-script.js";

// Reply codes shared by both scripts: {0, first} or {code}.
const RECOVERING = -3;
const NEEDS_SEED = -2;
const NOT_FOUND = -1;

/** Allocates `count` chat numbers and creates each new chat's message counter
 * at 0, so a missing message counter later means "lost", never "new". */
const allocateChats = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {${RECOVERING}} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {${NEEDS_SEED}} end
local count = tonumber(ARGV[1])
local last = redis.call('INCRBY', KEYS[2], count)
local first = last - count + 1
for n = first, last do redis.call('SET', ARGV[2] .. n, 0, 'NX') end
return {0, first}
`);

/** Allocates `count` message numbers; the chat exists iff its number is within
 * the application's chat counter. */
const allocateMessages = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {${RECOVERING}} end
if redis.call('EXISTS', KEYS[3]) == 1 then
  local count = tonumber(ARGV[2])
  return {0, redis.call('INCRBY', KEYS[3], count) - count + 1}
end
local chats = redis.call('GET', KEYS[2])
if not chats then return {${NEEDS_SEED}} end
if tonumber(ARGV[1]) > tonumber(chats) then return {${NOT_FOUND}} end
return {${NEEDS_SEED}}
`);

function toAllocation(reply: unknown): Allocation {
  const [code, first] = reply as [number, number?];
  if (code === 0) return { status: "ok", first: Number(first) };
  if (code === NOT_FOUND) return { status: "not_found" };
  if (code === NEEDS_SEED) return { status: "needs_seed" };
  return { status: "recovering" };
}

export class RedisSequencer implements Sequencer {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async initApplication(app: string): Promise<void> {
    await this.redis.set(this.keys.chatCounter(app), 0, "NX");
  }

  async allocateChats(app: string, count: number): Promise<Allocation> {
    const reply = await allocateChats.run(this.redis, [this.keys.epoch(), this.keys.chatCounter(app)], [count, this.keys.messageCounterPrefix(app)]);
    return toAllocation(reply);
  }

  async allocateMessages(app: string, chat: number, count: number): Promise<Allocation> {
    const keys = [this.keys.epoch(), this.keys.chatCounter(app), this.keys.messageCounter(app, chat)];
    return toAllocation(await allocateMessages.run(this.redis, keys, [chat, count]));
  }

  async seed(app: string, chatCounter: number, chat?: { number: number; messageCounter: number }): Promise<void> {
    const pipeline = this.redis.pipeline().set(this.keys.chatCounter(app), chatCounter, "NX");
    if (chat) pipeline.set(this.keys.messageCounter(app, chat.number), chat.messageCounter, "NX");
    await pipeline.exec();
  }

  async hasEpoch(): Promise<boolean> {
    return (await this.redis.exists(this.keys.epoch())) === 1;
  }

  async setEpoch(): Promise<void> {
    await this.redis.set(this.keys.epoch(), randomUUID(), "NX");
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
