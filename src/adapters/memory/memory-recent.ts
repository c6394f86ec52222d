import type { Chat, Message } from "../../domain/types.js";
import type { RecentCache } from "../../ports/recent.js";
import { NumberedLog } from "./numbered-log.js";

export interface MemoryRecentCacheOptions {
  /** Entries kept per chat (messages) and per application (chats). */
  maxPerParent?: number;
  /** Chats and applications with a buffer; past it the least recently written buffer is dropped. */
  maxParents?: number;
}

/** One parent's buffer: sorted for range reads, plus write order for eviction. */
interface Buffer<T extends { number: number }> {
  readonly sorted: NumberedLog<T>;
  /** Numbers from least to most recently written. */
  readonly written: Map<number, true>;
}

/**
 * Embedded-mode RecentCache. "Recent" means recently written: past the per-chat
 * cap the entry written longest ago goes (for creates, the lowest number; an
 * edit of an old message stays as long as a fresh create would). A put never
 * replaces a fresher version (by updatedAt). Memory is bounded by
 * maxPerParent × maxParents entries.
 */
export class MemoryRecentCache implements RecentCache {
  private readonly maxPerParent: number;
  private readonly maxParents: number;
  /** Keyed "c\0app" for an application's chats, "m\0app\0chat" for a chat's messages; in write order. */
  private readonly buffers = new Map<string, Buffer<Chat> | Buffer<Message>>();

  constructor(options: MemoryRecentCacheOptions = {}) {
    this.maxPerParent = options.maxPerParent ?? 256;
    this.maxParents = options.maxParents ?? 4_096;
    if (!(this.maxPerParent >= 1 && this.maxParents >= 1)) throw new RangeError("recent cache bounds must be at least 1");
  }

  async putChats(chats: Chat[]): Promise<void> {
    for (const chat of chats) this.put<Chat>(`c\u0000${chat.app}`, { ...chat });
  }

  async putMessages(messages: Message[]): Promise<void> {
    for (const message of messages) this.put<Message>(`m\u0000${message.app}\u0000${message.chat}`, { ...message });
  }

  async getChat(app: string, number: number): Promise<Chat | null> {
    const chat = this.buffer<Chat>(`c\u0000${app}`)?.sorted.get(number);
    return chat ? { ...chat } : null;
  }

  async listChats(app: string, after: number, limit: number): Promise<Chat[]> {
    const buffer = this.buffer<Chat>(`c\u0000${app}`);
    return buffer ? buffer.sorted.ascending(after, Infinity, limit).map((chat) => ({ ...chat })) : [];
  }

  async getMessage(app: string, chat: number, number: number): Promise<Message | null> {
    const message = this.buffer<Message>(`m\u0000${app}\u0000${chat}`)?.sorted.get(number);
    return message ? { ...message } : null;
  }

  async listMessages(app: string, chat: number, after: number, before: number, limit: number, descending: boolean): Promise<Message[]> {
    const buffer = this.buffer<Message>(`m\u0000${app}\u0000${chat}`);
    if (!buffer) return [];
    const page = descending ? buffer.sorted.descending(after, before, limit) : buffer.sorted.ascending(after, before, limit);
    return page.map((message) => ({ ...message }));
  }

  private buffer<T extends Chat | Message>(key: string): Buffer<T> | undefined {
    return this.buffers.get(key) as Buffer<T> | undefined;
  }

  private put<T extends Chat | Message>(key: string, item: T): void {
    let buffer = this.buffer<T>(key);
    if (buffer) {
      this.buffers.delete(key); // re-inserted below: most recently written parent last
    } else {
      buffer = { sorted: new NumberedLog<T>(), written: new Map() };
    }
    this.buffers.set(key, buffer as Buffer<Chat> | Buffer<Message>);
    const existing = buffer.sorted.get(item.number);
    if (existing && existing.updatedAt > item.updatedAt) return;
    buffer.sorted.set(item);
    buffer.written.delete(item.number);
    buffer.written.set(item.number, true);
    if (buffer.written.size > this.maxPerParent) {
      const oldest = buffer.written.keys().next().value as number;
      buffer.written.delete(oldest);
      buffer.sorted.delete(oldest);
    }
    if (this.buffers.size > this.maxParents) {
      const oldestKey = this.buffers.keys().next().value as string;
      this.buffers.delete(oldestKey);
    }
  }
}
