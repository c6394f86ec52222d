import type { ChatLog, Send, SendOutcome } from "../ports/chat-log.js";
import type { CreateObserver } from "../ports/create-observer.js";
import type { WriteQueue } from "../ports/queue.js";
import type { RecentChats } from "../ports/recent-chats.js";
import type { SearchIndex } from "../ports/search.js";
import type { ChatCreate, Numbered, Sequencer } from "../ports/sequencer.js";
import type { Store } from "../ports/store.js";
import { KeyedBatcher } from "./batcher.js";
import { ANONYMOUS, type Actor } from "./access-control.js";
import { DomainError, UnavailableError, forbidden, notFound, tooManyCreates } from "./errors.js";
import { fresher, mergePages } from "./merge.js";
import { publishWrites } from "./publish-writes.js";
import type { CounterRecovery } from "./recovery.js";
import { isCanonicalToken } from "./token.js";
import type { Application, Chat, Message, MessageRange, Page, SearchHit, WriteEvent } from "./types.js";
import type { User } from "./user.js";

export interface ChatServiceDeps {
  store: Store;
  sequencer: Sequencer;
  chatLog: ChatLog;
  queue: WriteQueue;
  recentChats: RecentChats;
  search: SearchIndex;
  recovery: CounterRecovery;
  newToken: () => string;
  now: () => number;
  /** Called for each new chat after the queue confirmed it (message events travel in the chat log). */
  onChatCreated: (chat: Chat) => void;
  /** Told about batches, creates in flight and numbering recovery (metrics). */
  observer: CreateObserver;
  maxBatch: number;
  /** Past this many unanswered creates, new ones are refused at once (503), so accepted ones keep a bounded latency. */
  maxInflightCreates: number;
}

/** A create's answer: the entity, and whether this call created it (false: a repeated idempotency key). */
export interface Created<T> {
  entity: T;
  created: boolean;
}

type ChatOutcome = { kind: "created" | "repeat"; chat: Chat } | { kind: "conflict" };

/** The use cases of the REST API and the socket, independent of transport and backend. */
export class ChatService {
  private readonly chatBatcher: KeyedBatcher<ChatCreate, ChatOutcome>;
  private readonly messageBatcher: KeyedBatcher<{ app: string; chat: number; send: Send }, SendOutcome>;
  private inflight = 0;

  constructor(private readonly deps: ChatServiceDeps) {
    this.chatBatcher = new KeyedBatcher((app, creates) => this.flushChats(app, creates), deps.maxBatch);
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

  /** `key`: the client's idempotency key; a repeat answers the original chat and creates nothing. */
  async createChat(app: string, name: string | null, key: string | null = null): Promise<Created<Chat>> {
    known(app);
    const outcome = await this.tracked(() => this.chatBatcher.submit(app, { name, key }));
    if (outcome.kind === "conflict") throw conflict();
    return { entity: outcome.chat, created: outcome.kind === "created" };
  }

  async getChat(app: string, number: number): Promise<Chat> {
    known(app);
    const [durable, recent] = await Promise.all([this.deps.store.findChat(app, number), this.deps.recentChats.getChat(app, number)]);
    const chat = fresher(durable, recent);
    if (!chat) throw notFound("chat");
    // The durable row carries the count; a fresher recent version carries the name.
    return durable && chat !== durable ? { ...chat, messagesCount: durable.messagesCount } : chat;
  }

  async listChats(app: string, after: number, limit: number): Promise<Page<Chat>> {
    known(app);
    const [durable, recent] = await Promise.all([
      this.deps.store.listChats(app, after, limit + 1),
      this.deps.recentChats.listChats(app, after, limit + 1),
    ]);
    if (durable.length === 0 && recent.length === 0) await this.getApplication(app);
    return pageOf(mergePages(durable, recent, limit + 1, false), limit, (last) => String(last.number));
  }

  async renameChat(app: string, number: number, name: string): Promise<Chat> {
    const current = await this.getChat(app, number);
    const chat: Chat = { ...current, name, updatedAt: this.nextVersion(current.updatedAt) };
    await this.publish([{ kind: "chat", created: false, chat }]);
    await this.deps.recentChats.putChats([chat]);
    return chat;
  }

  // --- messages

  /**
   * `key`: the client's idempotency key (per chat); a repeat answers the original message and creates nothing.
   * `sender`: the user the request acts as; null for an anonymous write.
   */
  async createMessage(app: string, chat: number, body: string, key: string | null = null, sender: User | null = null): Promise<Created<Message>> {
    known(app);
    const send: Send = sender ? { body, key, sender } : { body, key };
    const outcome = await this.tracked(() => this.messageBatcher.submit(`${app}\u0000${chat}`, { app, chat, send }));
    if (outcome.kind === "conflict") throw conflict();
    return { entity: outcome.message, created: outcome.kind === "created" };
  }

  async getMessage(app: string, chat: number, number: number): Promise<Message> {
    known(app);
    const message = (await this.deps.chatLog.getMessage(app, chat, number)) ?? (await this.deps.store.findMessage(app, chat, number));
    if (!message || message.deleted) throw notFound("message");
    return message;
  }

  async listMessages(app: string, chat: number, range: MessageRange, limit: number): Promise<Page<Message>> {
    // Deleted messages keep their numbers as tombstones: read on past them until the page is full or the range ends.
    const wanted = limit + 1;
    const shown: Message[] = [];
    for (let from = range; ; ) {
      const versions = await this.versions(app, chat, from, wanted);
      shown.push(...versions.filter((m) => !m.deleted));
      if (versions.length < wanted || shown.length >= wanted) break;
      from = { direction: from.direction === "after" ? "after" : "before", number: versions[versions.length - 1]!.number };
    }
    return pageOf(shown.slice(0, wanted), limit, (last) => String(last.number));
  }

  /** The chat's `count` newest versions, newest first, tombstones included. */
  latestVersions(app: string, chat: number, count: number): Promise<Message[]> {
    return this.versions(app, chat, { direction: "newest" }, count);
  }

  /** Up to `count` latest versions in a range, tombstones included: the chat log, merged with the store unless the log alone covers it. */
  private async versions(app: string, chat: number, range: MessageRange, count: number): Promise<Message[]> {
    known(app);
    const descending = range.direction !== "after";
    const after = range.direction === "after" ? range.number : 0;
    const before = range.direction === "before" ? range.number : Number.MAX_SAFE_INTEGER;
    const recent = await this.deps.chatLog.listMessages(app, chat, after, before, count, descending);
    if (coversPage(recent, range, count)) return recent;
    // The log holding anything of this chat proves the chat exists.
    const [durable] = await Promise.all([
      this.deps.store.listMessages(app, chat, range, count),
      recent.length > 0 ? undefined : this.getChat(app, chat),
    ]);
    return mergePages(durable, recent, count, descending);
  }

  async editMessage(app: string, chat: number, number: number, body: string, actor: Actor = ANONYMOUS): Promise<Message> {
    const current = await this.getMessage(app, chat, number);
    mayChange(current, actor);
    const message: Message = { ...current, body, updatedAt: this.nextVersion(current.updatedAt) };
    await this.publish([{ kind: "message", created: false, message }]);
    await this.deps.chatLog.edit(message);
    return message;
  }

  /**
   * Deletes a message through the queue like every write; its number stays
   * taken (a tombstone in the log and the store) and subscribers get
   * `message_deleted`. A repeat changes nothing.
   */
  async deleteMessage(app: string, chat: number, number: number, actor: Actor = ANONYMOUS): Promise<void> {
    known(app);
    const [logged, stored] = await Promise.all([this.deps.chatLog.getMessage(app, chat, number), this.deps.store.findMessage(app, chat, number)]);
    const current = [logged, stored].find((m) => m?.deleted) ?? fresher(stored, logged);
    if (!current) throw notFound("message");
    if (current.deleted) {
      // A repeat: the first may have failed after the queue took it, before the log did.
      if (!logged?.deleted) await this.deps.chatLog.delete(current);
      return;
    }
    mayChange(current, actor);
    const tombstone: Message = { app, chat, number, body: "", createdAt: current.createdAt, updatedAt: this.nextVersion(current.updatedAt), deleted: true };
    await this.publish([{ kind: "message_deleted", message: tombstone }]);
    await this.deps.chatLog.delete(tombstone);
  }

  async searchMessages(app: string, chat: number, query: string, limit: number, after: string | null): Promise<Page<SearchHit>> {
    await this.getChat(app, chat);
    const { hits, next } = await this.deps.search.search(app, chat, query, limit, after);
    return { data: hits, next };
  }

  /**
   * Messages after `since`, ascending, for resume and gap repair: the chat
   * log first, then the store. Tombstones included, so a resuming subscriber
   * learns of deletions and sees every number accounted for.
   */
  async messagesSince(app: string, chat: number, since: number, limit: number): Promise<Message[]> {
    return this.versions(app, chat, { direction: "after", number: since }, limit);
  }

  /** The highest message number handed out in a chat, where live delivery starts counting. */
  latestNumber(app: string, chat: number): Promise<number> {
    return this.deps.chatLog.head(app, chat);
  }

  // --- batched write path

  /** False once creates in flight reach the bound: a transport may refuse a create before reading it. */
  acceptingCreates(): boolean {
    return this.inflight < this.deps.maxInflightCreates;
  }

  /** Admission control: a create past the bound never queues; it is refused before any work. */
  private async tracked<T>(create: () => Promise<T>): Promise<T> {
    if (!this.acceptingCreates()) throw tooManyCreates();
    this.inflight++;
    this.deps.observer.inflight(1);
    try {
      return await create();
    } finally {
      this.inflight--;
      this.deps.observer.inflight(-1);
    }
  }

  private async flushChats(app: string, creates: ChatCreate[]): Promise<ChatOutcome[]> {
    const now = this.deps.now();
    const numbered = await this.numberChats(app, creates, now);
    const outcomes = numbered.map((n, i): ChatOutcome => {
      if (n.kind === "conflict") return n;
      const chat: Chat = { app, number: n.number, name: creates[i]!.name, messagesCount: 0, createdAt: n.createdAt, updatedAt: n.createdAt };
      return { kind: n.kind, chat };
    });
    const chats = outcomes.flatMap((o) => (o.kind === "conflict" ? [] : [o.chat]));
    // A repeat is enqueued again: its first enqueue may have failed after numbering. The worker ignores a second copy.
    await this.publish(chats.map((chat) => ({ kind: "chat", created: true, chat })));
    await this.deps.recentChats.putChats(chats);
    for (const o of outcomes) if (o.kind === "created") this.deps.onChatCreated(o.chat);
    return outcomes;
  }

  private async numberChats(app: string, creates: ChatCreate[], now: number): Promise<Numbered[]> {
    this.deps.observer.batch(creates.length);
    let result = await this.deps.sequencer.allocateChats(app, creates, now);
    if (result.status === "needs_seed") {
      await this.seed(app, null);
      result = await this.deps.sequencer.allocateChats(app, creates, now);
    }
    if (result.status === "ok") {
      this.deps.observer.recovering(false);
      return result.outcomes;
    }
    return this.unavailable(result.status);
  }

  /**
   * One chat's batch: the chat log numbers it, makes it readable and
   * publishes it live in one step; then the batch is enqueued durably, and
   * only then is each send answered.
   */
  private async flushMessages(items: { app: string; chat: number; send: Send }[]): Promise<SendOutcome[]> {
    const { app, chat } = items[0]!;
    const sends = items.map((item) => item.send);
    const now = this.deps.now();
    this.deps.observer.batch(sends.length);
    let result = await this.deps.chatLog.append(app, chat, sends, now);
    if (result.status === "needs_seed") {
      await this.seed(app, chat);
      result = await this.deps.chatLog.append(app, chat, sends, now);
    }
    if (result.status === "not_found") throw notFound("chat");
    if (result.status !== "ok") return this.unavailable(result.status);
    this.deps.observer.recovering(false);
    const messages = result.outcomes.flatMap((o) => (o.kind === "conflict" ? [] : [o.message]));
    // A repeat is enqueued again: its first enqueue may have failed after numbering. The worker ignores a second copy.
    await this.publish(messages.map((message) => ({ kind: "message", created: true, message })));
    this.deps.observer.messagesCreated(result.outcomes.filter((o) => o.kind === "created").length);
    return result.outcomes;
  }

  private unavailable(status: "recovering" | "needs_seed"): never {
    if (status === "recovering") {
      this.deps.observer.recovering(true);
      this.deps.recovery.trigger();
      throw new UnavailableError("numbering is recovering; retry shortly", 2);
    }
    throw new UnavailableError("numbering is being restored; retry shortly", 1);
  }

  /** Restores lost counters from the store (only ever after recovery made it the whole truth). */
  private async seed(app: string, chat: number | null): Promise<void> {
    const { store } = this.deps;
    const application = await store.findApplication(app);
    if (!application) throw notFound("application");
    const chatCounter = (await store.maxChatNumber(app)) ?? 0;
    await this.deps.sequencer.seed(app, chatCounter);
    if (chat === null || chat > chatCounter) return;
    await this.deps.chatLog.seed(app, chat, (await store.maxMessageNumber(app, chat)) ?? 0);
  }

  private publish(events: WriteEvent[]): Promise<void> {
    return publishWrites(this.deps.queue, events);
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

/** Closed applications: only a message's sender edits or deletes it. */
function mayChange(message: Message, actor: Actor): void {
  if (actor.ownMessagesOnly && message.sender?.id !== actor.user?.id) throw forbidden("only the sender of a message may change it");
}

function throwNotFound(what: string): never {
  throw notFound(what);
}

const conflict = (): DomainError => new DomainError("idempotency_conflict", "this Idempotency-Key was already used with a different request");

/**
 * Whether a page read from the chat log alone is the whole truth: it must
 * start right at the cursor (the newest page starts at the log's newest,
 * which is the chat's newest), hold consecutive numbers, and either fill the
 * page or reach an end (number 1 going down, the newest going up). The log
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
