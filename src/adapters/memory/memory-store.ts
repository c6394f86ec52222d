import type { ApplicationAccess } from "../../domain/application-access.js";
import type { ReadMarker } from "../../domain/read-marker.js";
import { applicationOf } from "../../domain/write-event-app.js";
import type { Application, Chat, Message, MessageRange, WriteEvent } from "../../domain/types.js";
import type { AppliedWrites, MessageKey, Store } from "../../ports/store.js";
import { BoundedLogs } from "./bounded-logs.js";
import { NumberedLog } from "./numbered-log.js";

export interface MemoryStoreOptions {
  /** Messages kept per chat; past it the chat's oldest (lowest-numbered) messages are dropped. */
  maxMessagesPerChat?: number;
  /** Messages kept in all; past it the oldest messages are dropped, oldest write first. */
  maxMessagesTotal?: number;
}

/**
 * Embedded-mode Store. Same semantics as the MySQL adapter: applications
 * written directly, chats and messages only through the idempotent,
 * last-writer-wins `applyWrites`; counts are owned by the store.
 *
 * Memory is bounded in messages (chats and applications are small and kept).
 * A dropped message is gone from reads and from search rebuilds, but still
 * counts in `messagesCount` (the count is of messages ever created and not
 * deleted) and still
 * holds its number in `maxMessageNumber`, so numbering never reuses it. A
 * write for a dropped number is ignored.
 */
export class MemoryStore implements Store {
  private readonly apps = new Map<string, Application>();
  private readonly access = new Map<string, ApplicationAccess>();
  /** Tokens in ascending order, for keyset listing and sweeps. */
  private readonly tokens: string[] = [];
  private readonly chats = new Map<string, NumberedLog<Chat>>();
  private readonly messages: BoundedLogs<Message>;
  /** Keyed "app\0chat\0user". */
  private readonly readMarkers = new Map<string, number>();
  /** Tombstones ever stored per chat, kept or dropped since: what the count leaves out. */
  private readonly tombstones = new Map<string, number>();
  private closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.messages = new BoundedLogs<Message>({
      maxPerLog: options.maxMessagesPerChat ?? 10_000,
      maxTotal: options.maxMessagesTotal ?? 1_000_000,
    });
  }

  // --- applications

  async insertApplication(app: Application): Promise<void> {
    if (this.apps.has(app.token)) throw new Error("duplicate application token");
    this.apps.set(app.token, { ...app });
    this.tokens.splice(lowerBound(this.tokens, app.token), 0, app.token);
  }

  async findApplication(token: string): Promise<Application | null> {
    const app = this.apps.get(token);
    return app ? { ...app } : null;
  }

  async renameApplication(token: string, name: string, updatedAt: number): Promise<Application | null> {
    const app = this.apps.get(token);
    if (!app) return null;
    app.name = name;
    app.updatedAt = updatedAt;
    return { ...app };
  }

  async listApplications(afterToken: string | null, limit: number): Promise<Application[]> {
    const start = afterToken === null ? 0 : upperBound(this.tokens, afterToken);
    return this.tokens.slice(start, start + Math.max(0, limit)).map((token) => ({ ...this.apps.get(token)! }));
  }

  // --- access

  async insertAccess(token: string, access: ApplicationAccess): Promise<void> {
    if (!this.apps.has(token)) throw new Error("no such application");
    if (this.access.has(token)) throw new Error("the application already has credentials");
    this.access.set(token, { ...access });
  }

  async findAccess(token: string): Promise<ApplicationAccess | null> {
    const access = this.access.get(token);
    return access ? { ...access } : null;
  }

  async rotateSecret(token: string, current: string, next: string, previousUntil: number): Promise<boolean> {
    const access = this.access.get(token);
    if (!access || access.secret !== current) return false;
    this.access.set(token, { ...access, secret: next, previousSecret: current, previousSecretUntil: previousUntil });
    return true;
  }

  async issueMissingSecret(token: string, secret: string): Promise<boolean> {
    if (!this.apps.has(token) || this.access.has(token)) return false;
    this.access.set(token, { secret, previousSecret: null, previousSecretUntil: null, userTokensRequired: false });
    return true;
  }

  async setUserTokensRequired(token: string, required: boolean): Promise<void> {
    const access = this.access.get(token);
    if (access) access.userTokensRequired = required;
  }

  // --- chats and messages

  async findChat(app: string, number: number): Promise<Chat | null> {
    const chat = this.chats.get(app)?.get(number);
    return chat ? { ...chat } : null;
  }

  async listChats(app: string, afterNumber: number, limit: number): Promise<Chat[]> {
    const log = this.chats.get(app);
    return log ? log.ascending(afterNumber, Infinity, limit).map((chat) => ({ ...chat })) : [];
  }

  async findMessage(app: string, chat: number, number: number): Promise<Message | null> {
    const message = this.messages.shelf(chatKey(app, chat))?.log.get(number);
    return message ? { ...message } : null;
  }

  async listMessages(app: string, chat: number, range: MessageRange, limit: number): Promise<Message[]> {
    const log = this.messages.shelf(chatKey(app, chat))?.log;
    if (!log) return [];
    let page: Message[];
    switch (range.direction) {
      case "after":
        page = log.ascending(range.number, Infinity, limit);
        break;
      case "before":
        page = log.descending(-Infinity, range.number, limit);
        break;
      case "newest":
        page = log.descending(-Infinity, Infinity, limit);
        break;
    }
    return page.map((message) => ({ ...message }));
  }

  async countMessages(app: string, chat: number, after: number, before: number): Promise<number> {
    const log = this.messages.shelf(chatKey(app, chat))?.log;
    if (!log) return 0;
    let live = 0;
    for (const message of log.ascending(after, before, Infinity)) if (!message.deleted) live++;
    return live;
  }

  async findReadMarker(app: string, chat: number, user: string): Promise<number | null> {
    return this.readMarkers.get(`${chatKey(app, chat)}\u0000${user}`) ?? null;
  }

  async maxChatNumber(app: string): Promise<number | null> {
    return this.chats.get(app)?.highest()?.number ?? null;
  }

  async maxMessageNumber(app: string, chat: number): Promise<number | null> {
    const highWater = this.messages.shelf(chatKey(app, chat))?.highWater ?? 0;
    return highWater > 0 ? highWater : null;
  }

  // --- the worker's write

  async applyWrites(events: WriteEvent[]): Promise<AppliedWrites> {
    const rejected: WriteEvent[] = [];
    for (const event of events) {
      if (!this.apps.has(applicationOf(event))) rejected.push(event);
      else if (event.kind === "chat") this.applyChat(event.chat);
      else if (event.kind === "message_deleted") this.applyDeletion(event.message);
      else if (event.kind === "read_marker") this.applyReadMarker(event.marker);
      else this.applyMessage(event.message);
    }
    return { rejected };
  }

  /** Upsert by updatedAt. The row's messagesCount belongs to the store, never to the event. */
  private applyChat(incoming: Chat): void {
    const app = this.apps.get(incoming.app)!;
    const log = this.chatLog(incoming.app);
    const existing = log.get(incoming.number);
    if (!existing) {
      log.set({ ...incoming, messagesCount: 0 });
      app.chatsCount += 1;
      return;
    }
    if (incoming.updatedAt > existing.updatedAt) {
      existing.name = incoming.name;
      existing.createdAt = incoming.createdAt;
      existing.updatedAt = incoming.updatedAt;
    }
  }

  private applyMessage(incoming: Message): void {
    const chat = this.chatOf(incoming);
    const key = chatKey(incoming.app, incoming.chat);
    const existing = this.messages.shelf(key)?.log.get(incoming.number);
    if (existing) {
      // A deletion is final, whatever an edit racing it says.
      if (incoming.updatedAt > existing.updatedAt && !existing.deleted) this.messages.shelf(key)!.log.set({ ...incoming });
      return;
    }
    if (this.messages.insert(key, { ...incoming })) chat.messagesCount += 1;
  }

  /** The tombstone replaces the message (which then no longer counts), or holds its number if it has not arrived yet. */
  private applyDeletion(tombstone: Message): void {
    const chat = this.chatOf(tombstone);
    const key = chatKey(tombstone.app, tombstone.chat);
    const existing = this.messages.shelf(key)?.log.get(tombstone.number);
    if (existing?.deleted) return;
    if (existing) {
      this.messages.shelf(key)!.log.set({ ...tombstone });
      chat.messagesCount -= 1;
    } else if (!this.messages.insert(key, { ...tombstone })) {
      return; // below the memory bound's floor: that number was dropped already
    }
    this.tombstones.set(key, (this.tombstones.get(key) ?? 0) + 1);
  }

  /** Forward only: an older or repeated marker changes nothing. */
  private applyReadMarker(marker: ReadMarker): void {
    this.chatOf({ app: marker.app, chat: marker.chat, createdAt: marker.updatedAt });
    const key = `${chatKey(marker.app, marker.chat)}\u0000${marker.user}`;
    this.readMarkers.set(key, Math.max(this.readMarkers.get(key) ?? 0, marker.number));
  }

  /** The message's chat; one that overtook its chat's own event gets a
   * placeholder at version 0, which holds the count until that event (any
   * version > 0) fills it in. */
  private chatOf(message: Pick<Message, "app" | "chat" | "createdAt">): Chat {
    const chats = this.chatLog(message.app);
    let chat = chats.get(message.chat);
    if (!chat) {
      chat = { app: message.app, number: message.chat, name: null, messagesCount: 0, createdAt: message.createdAt, updatedAt: 0 };
      chats.set(chat);
      this.apps.get(message.app)!.chatsCount += 1;
    }
    return chat;
  }

  private chatLog(app: string): NumberedLog<Chat> {
    let log = this.chats.get(app);
    if (!log) {
      log = new NumberedLog<Chat>();
      this.chats.set(app, log);
    }
    return log;
  }

  // --- maintenance

  /**
   * Sweeps applications in token order, each followed by its chats in number
   * order; `batch` rows per call. The cursor names the last row checked.
   */
  async reconcileCounts(cursor: string | null, batch: number): Promise<{ cursor: string | null; repaired: number }> {
    const [startToken, startChat] = cursor === null ? [null, -1] : decodeSweepCursor(cursor);
    batch = Math.max(1, batch);
    let checked = 0;
    let repaired = 0;
    let last: [string, number] | null = null;
    for (let i = startToken === null ? 0 : lowerBound(this.tokens, startToken); i < this.tokens.length; i++) {
      const token = this.tokens[i]!;
      const after = token === startToken ? startChat : -1;
      const chats = this.chats.get(token);
      if (after < 0) {
        if (checked >= batch) return { cursor: encodeSweepCursor(last!), repaired };
        const app = this.apps.get(token)!;
        const actual = chats?.size ?? 0;
        if (app.chatsCount !== actual) {
          app.chatsCount = actual;
          repaired += 1;
        }
        checked += 1;
        last = [token, 0];
      }
      if (!chats) continue;
      for (const chat of chats.ascending(Math.max(after, 0), Infinity, Infinity)) {
        if (checked >= batch) return { cursor: encodeSweepCursor(last!), repaired };
        const key = chatKey(token, chat.number);
        const shelf = this.messages.shelf(key);
        // Each number holds one entry, live or tombstone, kept or dropped; tombstones do not count.
        const actual = shelf ? shelf.log.size + shelf.dropped - (this.tombstones.get(key) ?? 0) : 0;
        if (chat.messagesCount !== actual) {
          chat.messagesCount = actual;
          repaired += 1;
        }
        checked += 1;
        last = [token, chat.number];
      }
    }
    return { cursor: null, repaired };
  }

  async scanMessages(after: MessageKey | null, limit: number): Promise<Message[]> {
    const out: Message[] = [];
    for (let i = after === null ? 0 : lowerBound(this.tokens, after.app); i < this.tokens.length && out.length < limit; i++) {
      const token = this.tokens[i]!;
      const sameApp = after !== null && token === after.app;
      const chats = this.chats.get(token);
      if (!chats) continue;
      for (const chat of chats.ascending(sameApp ? after.chat - 1 : 0, Infinity, Infinity)) {
        const log = this.messages.shelf(chatKey(token, chat.number))?.log;
        if (!log) continue;
        const from = sameApp && chat.number === after.chat ? after.number : 0;
        for (const message of log.ascending(from, Infinity, limit - out.length)) out.push({ ...message });
        if (out.length >= limit) break;
      }
    }
    return out;
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error("store is closed");
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /**
   * Test hook, deliberately outside the Store port: overwrites a stored count
   * (the application's when `chat` is null) so a test can watch the
   * reconciler repair it.
   */
  setCountForTesting(app: string, chat: number | null, value: number): void {
    if (chat === null) {
      const row = this.apps.get(app);
      if (!row) throw new Error("no such application");
      row.chatsCount = value;
      return;
    }
    const row = this.chats.get(app)?.get(chat);
    if (!row) throw new Error("no such chat");
    row.messagesCount = value;
  }
}

function chatKey(app: string, chat: number): string {
  return `${app}\u0000${chat}`;
}

function encodeSweepCursor(position: [string, number]): string {
  return Buffer.from(JSON.stringify(position)).toString("base64url");
}

function decodeSweepCursor(cursor: string): [string | null, number] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString());
    if (Array.isArray(value) && typeof value[0] === "string" && Number.isInteger(value[1])) return [value[0], value[1] as number];
  } catch {
    // fall through: an unreadable cursor restarts the sweep
  }
  return [null, -1];
}

/** First index whose value is ≥ key. */
function lowerBound(sorted: string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > key. */
function upperBound(sorted: string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
