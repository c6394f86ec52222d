import type { Chat } from "../../domain/types.js";
import type { RecentChats } from "../../ports/recent-chats.js";
import { NumberedLog } from "./numbered-log.js";

export interface MemoryRecentChatsOptions {
  /** Entries kept per application. */
  maxPerApp?: number;
  /** Applications with a window; past it the least recently written one is dropped. */
  maxApps?: number;
}

/** One application's window: sorted for range reads, plus write order for eviction. */
interface Window {
  readonly sorted: NumberedLog<Chat>;
  /** Numbers from least to most recently written. */
  readonly written: Map<number, true>;
}

/**
 * Embedded-mode RecentChats. "Recent" means recently written: past the cap
 * the entry written longest ago goes. A put never replaces a fresher version
 * (by updatedAt). Memory is bounded by maxPerApp × maxApps entries.
 */
export class MemoryRecentChats implements RecentChats {
  private readonly maxPerApp: number;
  private readonly maxApps: number;
  private readonly windows = new Map<string, Window>();

  constructor(options: MemoryRecentChatsOptions = {}) {
    this.maxPerApp = options.maxPerApp ?? 256;
    this.maxApps = options.maxApps ?? 4_096;
    if (!(this.maxPerApp >= 1 && this.maxApps >= 1)) throw new RangeError("recent chats bounds must be at least 1");
  }

  async putChats(chats: Chat[]): Promise<void> {
    for (const chat of chats) this.put({ ...chat });
  }

  async getChat(app: string, number: number): Promise<Chat | null> {
    const chat = this.windows.get(app)?.sorted.get(number);
    return chat ? { ...chat } : null;
  }

  async listChats(app: string, after: number, limit: number): Promise<Chat[]> {
    const window = this.windows.get(app);
    return window ? window.sorted.ascending(after, Infinity, limit).map((chat) => ({ ...chat })) : [];
  }

  private put(chat: Chat): void {
    let window = this.windows.get(chat.app);
    if (window) this.windows.delete(chat.app); // re-inserted below: most recently written last
    else window = { sorted: new NumberedLog<Chat>(), written: new Map() };
    this.windows.set(chat.app, window);
    const existing = window.sorted.get(chat.number);
    if (existing && existing.updatedAt > chat.updatedAt) return;
    window.sorted.set(chat);
    window.written.delete(chat.number);
    window.written.set(chat.number, true);
    if (window.written.size > this.maxPerApp) {
      const oldest = window.written.keys().next().value as number;
      window.written.delete(oldest);
      window.sorted.delete(oldest);
    }
    if (this.windows.size > this.maxApps) this.windows.delete(this.windows.keys().next().value as string);
  }
}
