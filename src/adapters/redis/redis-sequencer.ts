import type { ChatAllocation, ChatCreate, EndFence, Sequencer } from "../../ports/sequencer.js";
import type { RedisClient } from "./client.js";
import type { SlotFence } from "./fence.js";
import { keySlots, nameFingerprint, NEEDS_SEED, outcomesOf, RECOVERING } from "./idempotency.js";
import type { RedisKeys } from "./keys.js";
import { allocateChats } from "./scripts/allocate-chats.js";
import { initCounter } from "./scripts/init-counter.js";
import { seedCounter } from "./scripts/seed-counter.js";

export class RedisSequencer implements Sequencer {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly fence: SlotFence,
    private readonly idempotencyTtlSeconds: number,
  ) {}

  async initApplication(app: string): Promise<void> {
    const counter = this.keys.chatCounter(app);
    await initCounter.run(this.redis, [this.fence.markerOf(counter), counter], [""]);
  }

  async allocateChats(app: string, creates: ChatCreate[], now: number): Promise<ChatAllocation> {
    const before = await this.fence.markers();
    const counter = this.keys.chatCounter(app);
    const { keys, slots } = keySlots(creates, 2, (key) => this.keys.chatCreateKey(app, key));
    const args: (string | number)[] = [now, this.idempotencyTtlSeconds];
    creates.forEach((create, i) => args.push(nameFingerprint(create.name), slots[i]!));
    const reply = (await allocateChats.run(this.redis, [this.fence.markerOf(counter), counter, ...keys], args)) as number[];
    if (reply[0] === RECOVERING) return { status: "recovering" };
    if (reply[0] === NEEDS_SEED) return { status: "needs_seed" };
    const outcomes = outcomesOf(reply);
    // Each new chat's message counter lives in the chat's own slot: a second step.
    const fresh = outcomes.flatMap((o) => (o.kind === "created" ? [this.keys.messageCounter(app, o.number)] : []));
    await this.fence.initCounters(fresh, before);
    return { status: "ok", outcomes: outcomes.map((o) => (o.kind === "conflict" ? { kind: "conflict" } : o)) };
  }

  async seed(app: string, chatCounter: number): Promise<void> {
    const counter = this.keys.chatCounter(app);
    await seedCounter.run(this.redis, [this.fence.markerOf(counter), counter], [chatCounter]);
  }

  async hasEpoch(): Promise<boolean> {
    return (await this.fence.fencedSlots()).length === 0;
  }

  async fenced(): Promise<EndFence | null> {
    const slots = await this.fence.fencedSlots();
    return slots.length === 0 ? null : () => this.fence.release(slots);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
