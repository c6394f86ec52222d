import type { RecentCache } from "../ports/recent.js";
import type { WriteQueue } from "../ports/queue.js";
import type { SearchIndex } from "../ports/search.js";
import type { Allocation, Sequencer } from "../ports/sequencer.js";
import type { Store } from "../ports/store.js";
import { KeyedBatcher } from "./batcher.js";
import { DomainError, UnavailableError, notFound } from "./errors.js";
import { fresher, mergePages } from "./merge.js";
import type { CounterRecovery } from "./recovery.js";
import { isCanonicalToken } from "./token.js";
import type { Application, Chat, Message, MessageRange, Page, SearchHit, WriteEvent } from "./types.js";

/** What happened, for realtime subscribers. Emitted after the write is durable. */
export type LiveEvent =
  | { kind: "message"; message: Message }
  | { kind: "message_updated"; message: Message }
  | { kind: "chat_created"; chat: Chat };

export interface ChatServiceDeps {
  store: Store;
  sequencer: Sequencer;
  queue: WriteQueue;
  recent: RecentCache;
  search: SearchIndex;
  recovery: CounterRecovery;
  newToken: () => string;
  now: () => number;
  /** Called in number order per chat, after the queue confirmed the write. */
  onLive: (event: LiveEvent) => void;
  maxBatch: number;
}

/** The use cases of SPEC §2–§3, independent of transport and backend. */
export class ChatService {
  private readonly chatBatcher: KeyedBatcher<string | null, Chat>;
  private readonly messageBatcher: KeyedBatcher<{ app: string; chat: number; body: string }, Message>;

  constructor(private readonly deps: ChatServiceDeps) {
    this.chatBatcher = new KeyedBatcher((app, names) => this.flushChats(app, names), deps.maxBatch);
    this.messageBatcher = new KeyedBatcher((_key, sends) => this.flushMessages(sends), deps.maxBatch);
  }

  // --- applications (synchronous in the store: the token must be readable at once)

  async createApplication(name: string): Promise<Application> {
    const now = this.deps.now();
    const app: Application = { token: this.deps.newToken(), name, chatsCount: 0, createdAt: now, updatedAt: now };
    await this.deps.store.insertApplication(app);
    await this.deps.sequencer.initApplication(app.token);
    return app;
  }

  async getApplication(token: string): Promise<Application> {
    known(token);
    return (await this.deps.store.findApplication(token)) ?? throwNotFound("application");
  }

  async renameApplication(token: string, name: string): Promise<Application> {
    known(token);
    return (await this.deps.store.renameApplication(token, name, this.deps.now())) ?? throwNotFound("application");
  }

  async listApplications(afterToken: string | null, limit: number): Promise<Page<Application>> {
    const rows = await this.deps.store.listApplications(afterToken, limit + 1);
    return pageOf(rows, limit, (last) => last.token);
  }

  // --- chats

  async createChat(app: string, name: string | null): Promise<Chat> {
    known(app);
    return this.chatBatcher.submit(app, name);
  }

  async getChat(app: string, number: number): Promise<Chat> {
    known(app);
    const [durable, recent] = await Promise.all([this.deps.store.findChat(app, number), this.deps.recent.getChat(app, number)]);
    const chat = fresher(durable, recent);
    if (!chat) throw notFound("chat");
    // The durable row carries the count; a fresher recent version carries the name.
    return durable && chat !== durable ? { ...chat, messagesCount: durable.messagesCount } : chat;
  }

  async listChats(app: string, after: number, limit: number): Promise<Page<Chat>> {
    known(app);
    const [durable, recent] = await Promise.all([
      this.deps.store.listChats(app, after, limit + 1),
      this.deps.recent.listChats(app, after, limit + 1),
    ]);
    if (durable.length === 0 && recent.length === 0) await this.getApplication(app);
    return pageOf(mergePages(durable, recent, limit + 1, false), limit, (last) => String(last.number));
  }

  async renameChat(app: string, number: number, name: string): Promise<Chat> {
    const current = await this.getChat(app, number);
    const chat: Chat = { ...current, name, updatedAt: this.nextVersion(current.updatedAt) };
    await this.publish([{ kind: "chat", created: false, chat }]);
    await this.deps.recent.putChats([chat]);
    return chat;
  }

  // --- messages

  async createMessage(app: string, chat: number, body: string): Promise<Message> {
    known(app);
    return this.messageBatcher.submit(`${app}\u0000${chat}`, { app, chat, body });
  }

  async getMessage(app: string, chat: number, number: number): Promise<Message> {
    known(app);
    const message =
      (await this.deps.recent.getMessage(app, chat, number)) ?? (await this.deps.store.findMessage(app, chat, number));
    return message ?? throwNotFound("message");
  }

  async listMessages(app: string, chat: number, range: MessageRange, limit: number): Promise<Page<Message>> {
    known(app);
    const descending = range.direction !== "after";
    const after = range.direction === "after" ? range.number : 0;
    const before = range.direction === "before" ? range.number : Number.MAX_SAFE_INTEGER;
    const cursor = (last: Message): string => String(last.number);
    const recent = await this.deps.recent.listMessages(app, chat, after, before, limit + 1, descending);
    if (coversPage(recent, range, limit + 1)) return pageOf(recent, limit, cursor);
    // The buffer holding anything of this chat proves the chat exists.
    const [durable] = await Promise.all([
      this.deps.store.listMessages(app, chat, range, limit + 1),
      recent.length > 0 ? undefined : this.getChat(app, chat),
    ]);
    return pageOf(mergePages(durable, recent, limit + 1, descending), limit, cursor);
  }

  async editMessage(app: string, chat: number, number: number, body: string): Promise<Message> {
    const current = await this.getMessage(app, chat, number);
    const message: Message = { ...current, body, updatedAt: this.nextVersion(current.updatedAt) };
    await this.publish([{ kind: "message", created: false, message }]);
    await this.deps.recent.putMessages([message]);
    this.deps.onLive({ kind: "message_updated", message });
    return message;
  }

  async searchMessages(app: string, chat: number, query: string, limit: number, after: string | null): Promise<Page<SearchHit>> {
    await this.getChat(app, chat);
    const { hits, next } = await this.deps.search.search(app, chat, query, limit, after);
    return { data: hits, next };
  }

  /** Messages after `since`, ascending, for resume: recent buffer first, then the store. */
  async messagesSince(app: string, chat: number, since: number, limit: number): Promise<Message[]> {
    return (await this.listMessages(app, chat, { direction: "after", number: since }, limit)).data;
  }

  // --- batched write path

  private async flushChats(app: string, names: (string | null)[]): Promise<Chat[]> {
    const first = await this.allocate(app, null, names.length);
    const now = this.deps.now();
    const chats = names.map<Chat>((name, i) => ({
      app,
      number: first + i,
      name,
      messagesCount: 0,
      createdAt: now,
      updatedAt: now,
    }));
    await this.publish(chats.map((chat) => ({ kind: "chat", created: true, chat })));
    await this.deps.recent.putChats(chats);
    for (const chat of chats) this.deps.onLive({ kind: "chat_created", chat });
    return chats;
  }

  private async flushMessages(sends: { app: string; chat: number; body: string }[]): Promise<Message[]> {
    const { app, chat } = sends[0]!;
    const first = await this.allocate(app, chat, sends.length);
    const now = this.deps.now();
    const messages = sends.map<Message>((send, i) => ({
      app,
      chat,
      number: first + i,
      body: send.body,
      createdAt: now,
      updatedAt: now,
    }));
    await this.publish(messages.map((message) => ({ kind: "message", created: true, message })));
    await this.deps.recent.putMessages(messages);
    for (const message of messages) this.deps.onLive({ kind: "message", message });
    return messages;
  }

  /** Allocates `count` numbers, restoring a lost counter from the store once. */
  private async allocate(app: string, chat: number | null, count: number): Promise<number> {
    const { sequencer } = this.deps;
    const attempt = (): Promise<Allocation> =>
      chat === null ? sequencer.allocateChats(app, count) : sequencer.allocateMessages(app, chat, count);
    let result = await attempt();
    if (result.status === "needs_seed") {
      await this.seed(app, chat);
      result = await attempt();
    }
    switch (result.status) {
      case "ok":
        return result.first;
      case "not_found":
        throw notFound(chat === null ? "application" : "chat");
      case "recovering":
        this.deps.recovery.trigger();
        throw new UnavailableError("numbering is recovering; retry shortly", 2);
      case "needs_seed":
        throw new UnavailableError("numbering is being restored; retry shortly", 1);
    }
  }

  private async seed(app: string, chat: number | null): Promise<void> {
    const { store } = this.deps;
    const application = await store.findApplication(app);
    if (!application) throw notFound("application");
    const chatCounter = (await store.maxChatNumber(app)) ?? 0;
    if (chat === null || chat > chatCounter) {
      await this.deps.sequencer.seed(app, chatCounter);
      return;
    }
    const messageCounter = (await store.maxMessageNumber(app, chat)) ?? 0;
    await this.deps.sequencer.seed(app, chatCounter, { number: chat, messageCounter });
  }

  private async publish(events: WriteEvent[]): Promise<void> {
    try {
      await this.deps.queue.publish(events);
    } catch (err) {
      if (err instanceof DomainError) throw err;
      throw new UnavailableError("the write queue is unavailable", 1);
    }
  }

  /** An edit's version must sort after the one it replaces, even within one ms. */
  private nextVersion(previous: number): number {
    return Math.max(this.deps.now(), previous + 1);
  }
}

/** Every use case names its application by token; a non-canonical spelling names none. */
function known(token: string): void {
  if (!isCanonicalToken(token)) throw notFound("application");
}

function throwNotFound(what: string): never {
  throw notFound(what);
}

/**
 * Whether a page read from the recent buffer alone is the whole truth: it must
 * start right at the cursor (the newest page starts at the buffer's newest,
 * which is the chat's newest), hold consecutive numbers, and either fill the
 * page or reach an end (number 1 going down, the newest going up). The buffer
 * keeps a chat's highest numbers, so nothing MySQL holds can fall inside.
 */
function coversPage(page: Message[], range: MessageRange, wanted: number): boolean {
  if (page.length === 0) return false;
  const step = range.direction === "after" ? 1 : -1;
  const first = page[0]!.number;
  if (range.direction !== "newest" && first !== range.number + step) return false;
  for (let i = 1; i < page.length; i++) if (page[i]!.number !== first + i * step) return false;
  return page.length === wanted || range.direction === "after" || page[page.length - 1]!.number === 1;
}

function pageOf<T>(rows: T[], limit: number, cursorOf: (last: T) => string): Page<T> {
  if (rows.length <= limit) return { data: rows, next: null };
  const data = rows.slice(0, limit);
  return { data, next: cursorOf(data[data.length - 1]!) };
}
