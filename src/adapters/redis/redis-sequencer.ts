import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { ChatAllocation, ChatCreate, Sequencer } from "../../ports/sequencer.js";
import { keySlots, nameFingerprint, NEEDS_SEED, outcomesOf, RECOVERING } from "./idempotency.js";
import type { RedisKeys } from "./keys.js";
import { allocateChats } from "./scripts/allocate-chats.js";

export class RedisSequencer implements Sequencer {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly idempotencyTtlSeconds: number,
  ) {}

  async initApplication(app: string): Promise<void> {
    await this.redis.set(this.keys.chatCounter(app), 0, "NX");
  }

  async allocateChats(app: string, creates: ChatCreate[], now: number): Promise<ChatAllocation> {
    const { keys, slots } = keySlots(creates, 2, (key) => this.keys.chatCreateKey(app, key));
    const args: (string | number)[] = [now, this.idempotencyTtlSeconds, this.keys.messageCounterHead(app), "}:n"];
    creates.forEach((create, i) => args.push(nameFingerprint(create.name), slots[i]!));
    const reply = (await allocateChats.run(this.redis, [this.keys.epoch(), this.keys.chatCounter(app), ...keys], args)) as number[];
    if (reply[0] === RECOVERING) return { status: "recovering" };
    if (reply[0] === NEEDS_SEED) return { status: "needs_seed" };
    return {
      status: "ok",
      outcomes: outcomesOf(reply).map((o) => (o.kind === "conflict" ? { kind: "conflict" } : o)),
    };
  }

  async seed(app: string, chatCounter: number): Promise<void> {
    await this.redis.set(this.keys.chatCounter(app), chatCounter, "NX");
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
