import { createHash } from "node:crypto";
import type { ChatAllocation, ChatCreate, EndFence, Numbered, Sequencer } from "../../ports/sequencer.js";
import { MemoryIdempotency } from "./memory-idempotency.js";

/**
 * Embedded-mode Sequencer: the Redis adapter's semantics on Maps. Single
 * threaded, so every call is atomic by construction. It also holds the
 * message counters, which MemoryChatLog numbers with (in Redis both live in
 * the one server too).
 *
 * - A chat counter exists per application from `initApplication`; a message
 *   counter exists per chat from the allocation that created the chat, so a
 *   missing message counter always means "lost", never "new chat".
 * - While the state is intact an unknown application is `needs_seed`, which
 *   sends the caller to the store (it answers "no such application"). After a
 *   loss (`loseState`, the embedded stand-in for Redis restarting empty) every
 *   allocation is `recovering` until the fence ends, then a missing counter is
 *   `needs_seed`: the caller restores it from the store with `seed`.
 */
export class MemorySequencer implements Sequencer {
  private readonly chatCounters = new Map<string, number>();
  private readonly messageCounters = new Map<string, number>();
  /** Idempotency keys of chat creates (scope: app) and of sends (scope: app and chat). */
  readonly keys: MemoryIdempotency;
  /** Bumped by every loss of state, so the chat log knows to forget its entries too. */
  generation = 0;
  private epoch = true;

  constructor(idempotencyTtlMs = 600_000) {
    this.keys = new MemoryIdempotency(idempotencyTtlMs, 100_000);
  }

  async initApplication(app: string): Promise<void> {
    if (!this.chatCounters.has(app)) this.chatCounters.set(app, 0);
  }

  async allocateChats(app: string, creates: ChatCreate[], now: number): Promise<ChatAllocation> {
    if (!this.epoch) return { status: "recovering" };
    let counter = this.chatCounters.get(app);
    if (counter === undefined) return { status: "needs_seed" };
    const outcomes = creates.map((create): Numbered => {
      const fingerprint = create.name === null ? "-" : createHash("sha1").update(create.name).digest("hex");
      const seen = create.key === null ? null : this.keys.get(app, create.key);
      if (seen) return seen.fingerprint === fingerprint ? { kind: "repeat", number: seen.number, createdAt: seen.createdAt } : { kind: "conflict" };
      counter! += 1;
      const number = counter!;
      const messages = messageKey(app, number);
      if (!this.messageCounters.has(messages)) this.messageCounters.set(messages, 0);
      if (create.key !== null) this.keys.set(app, create.key, { number, createdAt: now, fingerprint });
      return { kind: "created", number, createdAt: now };
    });
    this.chatCounters.set(app, counter);
    return { status: "ok", outcomes };
  }

  async seed(app: string, chatCounter: number): Promise<void> {
    if (!this.chatCounters.has(app)) this.chatCounters.set(app, chatCounter);
  }

  async hasEpoch(): Promise<boolean> {
    return this.epoch;
  }

  async fenced(): Promise<EndFence | null> {
    if (this.epoch) return null;
    // One place holds all the state, fenced since the loss: nothing was numbered since, so a second loss changes nothing.
    return async () => {
      this.epoch = true;
    };
  }

  async ping(): Promise<void> {}

  /** Test hook (not part of the port): forgets every counter, key and the epoch, like Redis restarting empty. */
  loseState(): void {
    this.chatCounters.clear();
    this.messageCounters.clear();
    this.keys.clear();
    this.epoch = false;
    this.generation += 1;
  }

  // --- for MemoryChatLog (same backend), not part of the port

  /** Where a chat's next numbers would come from, like the append script's checks. */
  messageCounter(app: string, chat: number): "recovering" | "not_found" | "needs_seed" | number {
    if (!this.epoch) return "recovering";
    const counter = this.messageCounters.get(messageKey(app, chat));
    if (counter !== undefined) return counter;
    const chats = this.chatCounters.get(app);
    return chats !== undefined && chat > chats ? "not_found" : "needs_seed";
  }

  setMessageCounter(app: string, chat: number, counter: number): void {
    this.messageCounters.set(messageKey(app, chat), counter);
  }

  seedMessageCounter(app: string, chat: number, counter: number): void {
    if (!this.messageCounters.has(messageKey(app, chat))) this.messageCounters.set(messageKey(app, chat), counter);
  }
}

function messageKey(app: string, chat: number): string {
  return `${app}\u0000${chat}`;
}
