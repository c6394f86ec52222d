import type { Redis } from "ioredis";
import { pack } from "msgpackr";
import { chatChannel, encodeLiveBatch, entryMessage, packedEntry, unpackLog } from "../../domain/live-batch.js";
import type { Message } from "../../domain/types.js";
import type { Append, ChatLog, Send } from "../../ports/chat-log.js";
import { keySlots, NEEDS_SEED, NOT_FOUND, outcomesOf, RECOVERING } from "./idempotency.js";
import type { RedisKeys } from "./keys.js";
import { appendMessages } from "./scripts/append-messages.js";
import { editMessage } from "./scripts/edit-message.js";

export interface RedisChatLogOptions {
  /** Entries kept per chat, and how long a chat's log outlives its last write. */
  keep: number;
  ttlSeconds: number;
  idempotencyTtlSeconds: number;
}

/** The chat log in Redis: a counter, a sorted set of recent entries by number, idempotency keys, all under the chat's hash tag. */
export class RedisChatLog implements ChatLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: RedisChatLogOptions,
  ) {}

  async append(app: string, chat: number, sends: Send[], now: number): Promise<Append> {
    const { keys, slots } = keySlots(sends, 4, (key) => this.keys.messageSendKey(app, chat, key));
    const { keep, ttlSeconds, idempotencyTtlSeconds } = this.options;
    const args: (string | number)[] = [chat, now, keep, ttlSeconds, idempotencyTtlSeconds, this.keys.channel(chatChannel(app, chat))];
    sends.forEach((send, i) => args.push(send.body, slots[i]!, send.sender?.id ?? "", send.sender?.name ?? ""));
    const fixed = [this.keys.epoch(), this.keys.chatCounter(app), this.keys.messageCounter(app, chat), this.keys.chatLog(app, chat)];
    const reply = (await appendMessages.run(this.redis, [...fixed, ...keys], args)) as number[];
    if (reply[0] === RECOVERING) return { status: "recovering" };
    if (reply[0] === NEEDS_SEED) return { status: "needs_seed" };
    if (reply[0] === NOT_FOUND) return { status: "not_found" };
    return {
      status: "ok",
      outcomes: outcomesOf(reply).map((o, i) => {
        if (o.kind === "conflict") return { kind: "conflict" };
        const { body, sender } = sends[i]!;
        const message: Message = { app, chat, number: o.number, body, createdAt: o.createdAt, updatedAt: o.createdAt, ...(sender ? { sender } : {}) };
        return { kind: o.kind, message };
      }),
    };
  }

  async edit(message: Message): Promise<void> {
    await this.putVersion(message, "updated");
  }

  async delete(tombstone: Message): Promise<void> {
    await this.putVersion(tombstone, "deleted");
  }

  /** An edit and a deletion are the same step: a fresher version of one entry, published live. */
  private async putVersion(message: Message, kind: "updated" | "deleted"): Promise<void> {
    const { app, chat, number } = message;
    const frame = encodeLiveBatch({ kind, messages: [message] });
    await editMessage.run(
      this.redis,
      [this.keys.chatLog(app, chat)],
      [number, message.updatedAt, pack(packedEntry(message)), this.options.keep, this.options.ttlSeconds, this.keys.channel(chatChannel(app, chat)), frame],
    );
  }

  async head(app: string, chat: number): Promise<number> {
    return Number((await this.redis.get(this.keys.messageCounter(app, chat))) ?? 0);
  }

  async seed(app: string, chat: number, counter: number): Promise<void> {
    await this.redis.set(this.keys.messageCounter(app, chat), counter, "NX");
  }

  async getMessage(app: string, chat: number, number: number): Promise<Message | null> {
    const [member] = await this.redis.zrangebyscoreBuffer(this.keys.chatLog(app, chat), number, number);
    return member ? entryMessage(app, chat, unpackLog(member)) : null;
  }

  async listMessages(app: string, chat: number, after: number, before: number, limit: number, descending: boolean): Promise<Message[]> {
    const key = this.keys.chatLog(app, chat);
    const upper = before >= Number.MAX_SAFE_INTEGER ? "+inf" : `(${before}`;
    const members = descending
      ? await this.redis.zrevrangebyscoreBuffer(key, upper, `(${after}`, "LIMIT", 0, limit)
      : await this.redis.zrangebyscoreBuffer(key, `(${after}`, upper, "LIMIT", 0, limit);
    return members.flatMap((m) => entryMessage(app, chat, unpackLog(m)) ?? []);
  }
}
