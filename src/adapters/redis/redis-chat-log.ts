import { pack } from "msgpackr";
import { chatChannel, encodeLiveBatch, entryMessage, packedEntry, unpackLog } from "../../domain/live-batch.js";
import type { Message } from "../../domain/types.js";
import type { Append, ChatLog, Send } from "../../ports/chat-log.js";
import type { RedisClient } from "./client.js";
import type { SlotFence } from "./fence.js";
import { keySlots, NEEDS_SEED, outcomesOf, RECOVERING } from "./idempotency.js";
import type { RedisKeys } from "./keys.js";
import { appendMessages } from "./scripts/append-messages.js";
import { chatCount } from "./scripts/chat-count.js";
import { editMessage } from "./scripts/edit-message.js";
import { seedCounter } from "./scripts/seed-counter.js";

export interface RedisChatLogOptions {
  /** Entries kept per chat, and how long a chat's log outlives its last write. */
  keep: number;
  ttlSeconds: number;
  idempotencyTtlSeconds: number;
}

/** The chat log in Redis: a counter, a sorted set of recent entries by number, idempotency keys, all under the chat's hash tag. */
export class RedisChatLog implements ChatLog {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly fence: SlotFence,
    private readonly options: RedisChatLogOptions,
  ) {}

  async append(app: string, chat: number, sends: Send[], now: number): Promise<Append> {
    const { keys, slots } = keySlots(sends, 3, (key) => this.keys.messageSendKey(app, chat, key));
    const { keep, ttlSeconds, idempotencyTtlSeconds } = this.options;
    const args: (string | number)[] = [now, keep, ttlSeconds, idempotencyTtlSeconds, this.keys.channel(chatChannel(app, chat))];
    sends.forEach((send, i) => args.push(send.body, slots[i]!, send.sender?.id ?? "", send.sender?.name ?? ""));
    const counter = this.keys.messageCounter(app, chat);
    const reply = (await appendMessages.run(this.redis, [this.fence.markerOf(counter), counter, this.keys.chatLog(app, chat), ...keys], args)) as number[];
    if (reply[0] === RECOVERING) return { status: "recovering" };
    if (reply[0] === NEEDS_SEED) return this.withoutCounter(app, chat);
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

  /**
   * A chat without a valid message counter either does not exist or has to
   * be re-seeded; the application's chat counter, in another slot, tells
   * which. Not atomic with the append, and need not be: chat counters only
   * grow, so a chat beyond it did not exist when it was read.
   */
  private async withoutCounter(app: string, chat: number): Promise<Append> {
    const counter = this.keys.chatCounter(app);
    const chats = Number(await chatCount.run(this.redis, [this.fence.markerOf(counter), counter], []));
    if (chats === RECOVERING) return { status: "recovering" };
    return chats !== NEEDS_SEED && chat > chats ? { status: "not_found" } : { status: "needs_seed" };
  }

  async head(app: string, chat: number): Promise<number> {
    return Number((await this.redis.hget(this.keys.messageCounter(app, chat), "n")) ?? 0);
  }

  async seed(app: string, chat: number, counter: number): Promise<void> {
    const key = this.keys.messageCounter(app, chat);
    await seedCounter.run(this.redis, [this.fence.markerOf(key), key], [counter]);
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
