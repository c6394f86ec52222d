import type { Allocation, Sequencer } from "../../ports/sequencer.js";

/**
 * Embedded-mode Sequencer: the Redis adapter's semantics on Maps. Single
 * threaded, so every call is atomic by construction.
 *
 * - A chat counter exists per application from `initApplication`; a message
 *   counter exists per chat from the allocation that created the chat, so a
 *   missing message counter always means "lost", never "new chat".
 * - While the state is intact an unknown application is `not_found`. After a
 *   loss (`loseState`, the embedded stand-in for Redis restarting empty) every
 *   allocation is `recovering` until `setEpoch`, then a missing counter is
 *   `needs_seed`: the caller restores it from the store with `seed`.
 */
export class MemorySequencer implements Sequencer {
  private readonly chatCounters = new Map<string, number>();
  private readonly messageCounters = new Map<string, number>();
  private epoch = true;
  private lost = false;

  async initApplication(app: string): Promise<void> {
    if (!this.chatCounters.has(app)) this.chatCounters.set(app, 0);
  }

  async allocateChats(app: string, count: number): Promise<Allocation> {
    checkCount(count);
    if (!this.epoch) return { status: "recovering" };
    const counter = this.chatCounters.get(app);
    if (counter === undefined) return this.missing();
    const first = counter + 1;
    this.chatCounters.set(app, counter + count);
    for (let chat = first; chat <= counter + count; chat++) {
      const key = messageKey(app, chat);
      if (!this.messageCounters.has(key)) this.messageCounters.set(key, 0);
    }
    return { status: "ok", first };
  }

  async allocateMessages(app: string, chat: number, count: number): Promise<Allocation> {
    checkCount(count);
    if (!this.epoch) return { status: "recovering" };
    const chats = this.chatCounters.get(app);
    if (chats === undefined) return this.missing();
    if (!Number.isInteger(chat) || chat < 1 || chat > chats) return { status: "not_found" };
    const key = messageKey(app, chat);
    const counter = this.messageCounters.get(key);
    if (counter === undefined) return { status: "needs_seed" };
    this.messageCounters.set(key, counter + count);
    return { status: "ok", first: counter + 1 };
  }

  async seed(app: string, chatCounter: number, chat?: { number: number; messageCounter: number }): Promise<void> {
    if (!this.chatCounters.has(app)) this.chatCounters.set(app, chatCounter);
    if (chat) {
      const key = messageKey(app, chat.number);
      if (!this.messageCounters.has(key)) this.messageCounters.set(key, chat.messageCounter);
    }
  }

  async hasEpoch(): Promise<boolean> {
    return this.epoch;
  }

  async setEpoch(): Promise<void> {
    this.epoch = true;
  }

  async ping(): Promise<void> {}

  /** Test hook (not part of the port): forgets every counter and the epoch, like Redis restarting empty. */
  loseState(): void {
    this.chatCounters.clear();
    this.messageCounters.clear();
    this.epoch = false;
    this.lost = true;
  }

  private missing(): Allocation {
    return this.lost ? { status: "needs_seed" } : { status: "not_found" };
  }
}

function messageKey(app: string, chat: number): string {
  return `${app}\u0000${chat}`;
}

function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`allocation count must be a positive integer, got ${count}`);
}
