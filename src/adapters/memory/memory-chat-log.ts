import { createHash } from "node:crypto";
import { chatChannel, encodeLiveBatch, type LiveKind } from "../../domain/live-batch.js";
import type { Message } from "../../domain/types.js";
import type { Bus } from "../../ports/bus.js";
import type { Append, ChatLog, Send, SendOutcome } from "../../ports/chat-log.js";
import type { MemorySequencer } from "./memory-sequencer.js";
import { NumberedLog } from "./numbered-log.js";

export interface MemoryChatLogOptions {
  /** Entries kept per chat. */
  keep: number;
  /** Chats with a window; past it the least recently written chat's window is dropped. */
  maxChats: number;
}

/**
 * Embedded-mode ChatLog: the Redis script's step as one synchronous function
 * (numbers from the sequencer's message counters, idempotency keys, the
 * bounded window, the live frame on the bus). Bounded by keep × maxChats
 * entries.
 */
export class MemoryChatLog implements ChatLog {
  /** Keyed "app\0chat", in write order (least recently written first). */
  private readonly windows = new Map<string, NumberedLog<Message>>();
  private generation: number;

  constructor(
    private readonly sequencer: MemorySequencer,
    private readonly bus: Bus,
    private readonly options: MemoryChatLogOptions,
  ) {
    this.generation = sequencer.generation;
  }

  async append(app: string, chat: number, sends: Send[], now: number): Promise<Append> {
    const counter = this.sequencer.messageCounter(app, chat);
    if (typeof counter !== "number") return { status: counter };
    const scope = `${app}\u0000${chat}`;
    let next = counter;
    const created: Message[] = [];
    const outcomes = sends.map((send): SendOutcome => {
      const fingerprint = send.key === null ? "" : createHash("sha1").update(send.body).digest("hex");
      const seen = send.key === null ? null : this.sequencer.keys.get(scope, send.key);
      if (seen) {
        if (seen.fingerprint !== fingerprint) return { kind: "conflict" };
        return { kind: "repeat", message: { app, chat, number: seen.number, body: send.body, createdAt: seen.createdAt, updatedAt: seen.createdAt, ...senderOf(send) } };
      }
      next += 1;
      const message: Message = { app, chat, number: next, body: send.body, createdAt: now, updatedAt: now, ...senderOf(send) };
      created.push(message);
      if (send.key !== null) this.sequencer.keys.set(scope, send.key, { number: next, createdAt: now, fingerprint });
      return { kind: "created", message };
    });
    if (created.length > 0) {
      this.sequencer.setMessageCounter(app, chat, next);
      const window = this.window(app, chat, true)!;
      for (const message of created) window.set({ ...message });
      this.trim(window);
      this.publish(app, chat, "created", created);
    }
    return { status: "ok", outcomes };
  }

  async edit(message: Message): Promise<void> {
    this.putVersion(message, "updated");
  }

  async delete(tombstone: Message): Promise<void> {
    this.putVersion(tombstone, "deleted");
  }

  /** An edit and a deletion are the same step: a fresher version of one entry, published live. */
  private putVersion(message: Message, kind: "updated" | "deleted"): void {
    const window = this.window(message.app, message.chat, true)!;
    const current = window.get(message.number);
    // A deletion is final, whatever an edit racing it says.
    if (current && (current.deleted || current.updatedAt > message.updatedAt)) return;
    window.set({ ...message });
    this.trim(window);
    this.publish(message.app, message.chat, kind, [message]);
  }

  async head(app: string, chat: number): Promise<number> {
    const counter = this.sequencer.messageCounter(app, chat);
    return typeof counter === "number" ? counter : 0;
  }

  async seed(app: string, chat: number, counter: number): Promise<void> {
    this.sequencer.seedMessageCounter(app, chat, counter);
  }

  async getMessage(app: string, chat: number, number: number): Promise<Message | null> {
    const message = this.window(app, chat, false)?.get(number);
    return message ? { ...message } : null;
  }

  async listMessages(app: string, chat: number, after: number, before: number, limit: number, descending: boolean): Promise<Message[]> {
    const window = this.window(app, chat, false);
    if (!window) return [];
    const page = descending ? window.descending(after, before, limit) : window.ascending(after, before, limit);
    return page.map((message) => ({ ...message }));
  }

  private publish(app: string, chat: number, kind: LiveKind, messages: Message[]): void {
    // Delivered asynchronously by the bus, in publish order, like Redis pub/sub.
    this.bus.publish(chatChannel(app, chat), encodeLiveBatch({ kind, messages })).catch(() => undefined);
  }

  private window(app: string, chat: number, create: boolean): NumberedLog<Message> | undefined {
    if (this.generation !== this.sequencer.generation) {
      this.windows.clear(); // the state was lost, entries with it
      this.generation = this.sequencer.generation;
    }
    const key = `${app}\u0000${chat}`;
    let window = this.windows.get(key);
    if (!create) return window;
    if (window) this.windows.delete(key); // re-inserted below: most recently written last
    else window = new NumberedLog<Message>();
    this.windows.set(key, window);
    if (this.windows.size > this.options.maxChats) this.windows.delete(this.windows.keys().next().value as string);
    return window;
  }

  /** Keeps the highest `keep` numbers, as the Redis log does. */
  private trim(window: NumberedLog<Message>): void {
    while (window.size > this.options.keep) window.delete(window.lowest()!.number);
  }
}

/** A message has a sender field only when it has a sender, as the Redis log's entries do. */
const senderOf = (send: Send): Pick<Message, "sender"> => (send.sender ? { sender: { ...send.sender } } : {});
