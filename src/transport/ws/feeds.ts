import { pack, unpack } from "msgpackr";
import type { TemplatedApp } from "uWebSockets.js";
import type { ChatService } from "../../domain/chat-service.js";
import { channelOf, chatChannel, decodeChatEvent, encodeChatSignal, type LiveKind } from "../../domain/live-batch.js";
import type { Message } from "../../domain/types.js";
import type { Logger } from "../../log.js";
import type { Bus } from "../../ports/bus.js";
import { TypingThrottle } from "../../domain/typing-throttle.js";
import { countFramesSent } from "./frames-sent.js";
import { liveFrame, type Encoding, type ServerFrame } from "./protocol.js";

/**
 * One live event as this process delivers it. Its bytes are made at most once
 * per encoding per process, and only when a socket of that encoding needs
 * them: subscribers share them, nothing is encoded per socket.
 */
export class Delivery {
  private packed: Uint8Array | undefined;
  private text: string | undefined;

  /**
   * `number`: the message's number (a new chat's number for chat_created).
   * `inStream`: it takes its number's place in the chat's ordered stream (a
   * new message, or the tombstone of one deleted before this process
   * delivered it), rather than changing an earlier one.
   */
  constructor(
    readonly frame: ServerFrame,
    readonly number: number,
    readonly inStream: boolean,
    packed?: Uint8Array,
  ) {
    this.packed = packed;
  }

  get op(): string {
    return this.frame.op;
  }
  bytes(encoding: Encoding): string | Uint8Array {
    return encoding === "json" ? (this.text ??= JSON.stringify(this.frame)) : (this.packed ??= pack(this.frame));
  }
}

/** What a feed needs of the sockets on its topics. */
export interface FeedMember {
  /** Returns true when the socket was closed for being slow. */
  checkBackpressure(): boolean;
  /** Closes the socket with 4008: it resumes by number. */
  dropSlow(why: string): void;
  /** The user the socket acts as in this feed's application; null: anonymous. */
  readonly userId: string | null;
  /** Sends one event to this socket alone (one that skips some sockets cannot go through the shared topic). */
  deliver(delivery: Delivery): void;
}

/** A socket-side subscription that takes live events one by one (while it resumes). */
export interface DirectReceiver extends FeedMember {
  onLive(delivery: Delivery, feed: Feed): void;
}

/**
 * Everything this process does for one Bus channel (a chat, or an
 * application's chat_created stream): the Bus subscription, held while ≥1
 * local socket needs it (ref-counted), the two uWS topics (one per encoding),
 * the sockets still resuming, and — for a chat — the position of its ordered
 * stream.
 */
export class Feed {
  refs = 0;
  /** Settles once the stream's starting point is known and the Bus confirmed the subscription. */
  ready!: Promise<void>;
  failed = false;
  /** Sockets subscribed to one of the topics. */
  readonly members = new Set<FeedMember>();
  /** Subscriptions resuming: they get every event directly and filter by number. */
  readonly direct = new Set<DirectReceiver>();
  /**
   * The highest message number this process delivered on the chat's stream:
   * the stream is gap-free and in order from here on (a chat's batches come
   * from one Redis script each, so the Bus carries them in number order; a
   * jump means frames were lost and is repaired from the chat log).
   */
  last = 0;
  /** The highest message number handed to sockets (≤ last: accepted events may wait for the sweep budget). */
  delivered = 0;
  /** While set, new frames wait here until the repair reached them. */
  repair: { pending: Message[] } | null = null;

  constructor(
    readonly channel: string,
    readonly app: string,
    readonly chat: number | null,
  ) {}

  topic(encoding: Encoding): string {
    return `${encoding === "json" ? "j" : "m"}|${this.channel}`;
  }
}

export interface FeedsOptions {
  /**
   * Most topic bytes this process hands uWS between two backpressure sweeps.
   * uWS writes topic messages to sockets only when the loop iteration ends,
   * so a socket's backlog shows them one iteration later; capping what is
   * published in between keeps every socket's backlog below uWS's hard limit
   * (which would cut it without a close frame) until the sweep closes it with
   * 4008.
   */
  bytesPerSweep: number;
  /** Frames held per feed while a repair runs; past it the feed's sockets are closed with 4008 (they resume). */
  maxPending: number;
  /** Messages per repair read. */
  pageSize: number;
}

/** At most one typing event per user per chat per second reaches subscribers. */
export const TYPING_INTERVAL_MS = 1000;

type Work = { feed: Feed; kind: LiveKind; messages: Message[]; next: number } | { feed: Feed; delivery: Delivery; exceptUser?: string | null };

/** All feeds of this process, keyed by Bus channel, and the fanout from the Bus into uWS topics. */
export class Feeds {
  private readonly feeds = new Map<string, Feed>();
  private readonly touched = new Set<Feed>();
  /** Events received but not handed to uWS yet, in arrival order (over the sweep budget). */
  private readonly queue: Work[] = [];
  private sentSinceSweep = 0;
  private sweepTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly typing = new TypingThrottle(TYPING_INTERVAL_MS);

  constructor(
    private readonly app: TemplatedApp,
    private readonly bus: Bus,
    private readonly service: ChatService,
    private readonly log: Logger,
    private readonly options: FeedsOptions,
  ) {
    bus.onMessage((channel, payload) => this.receive(channel, payload));
    // Frames published while the Bus was reconnecting are lost to it: every chat stream catches up from its log.
    bus.onReconnect(() => {
      for (const feed of this.feeds.values()) if (feed.chat !== null && !feed.repair) this.startRepair(feed, []);
    });
  }

  get size(): number {
    return this.feeds.size;
  }

  /** The chats this process has subscribers of. */
  *chats(): IterableIterator<{ app: string; chat: number }> {
    for (const feed of this.feeds.values()) if (feed.chat !== null) yield { app: feed.app, chat: feed.chat };
  }

  /** Subscriptions still resuming (taking events one by one). */
  get resuming(): number {
    let n = 0;
    for (const feed of this.feeds.values()) n += feed.direct.size;
    return n;
  }

  /** Takes a reference on a chat's (or, with chat null, an application's) feed, subscribing the Bus on the first one. */
  acquire(app: string, chat: number | null): Feed {
    const channel = channelOf(app, chat);
    let feed = this.feeds.get(channel);
    if (!feed || feed.failed) {
      const fresh = new Feed(channel, app, chat);
      // The position is read before subscribing: whatever is published in
      // between arrives as a jump, which the repair fills from the log.
      fresh.ready = (async () => {
        if (chat !== null) fresh.last = fresh.delivered = await this.service.latestNumber(app, chat);
        await this.bus.subscribe(channel);
      })().catch((err: unknown) => {
        fresh.failed = true;
        throw err;
      });
      // Holders of a failed feed release it later; it must not be reused meanwhile.
      fresh.ready.catch(() => undefined);
      this.feeds.set(channel, fresh);
      feed = fresh;
    }
    feed.refs++;
    return feed;
  }

  /** Drops a reference; the last one unsubscribes the Bus channel. */
  release(feed: Feed): void {
    feed.refs--;
    if (feed.refs > 0) return;
    if (this.feeds.get(feed.channel) !== feed) return; // a failed feed already replaced
    this.feeds.delete(feed.channel);
    this.touched.delete(feed);
    feed.repair = null;
    // Issued on the same connection after any earlier subscribe, so the order holds;
    // a later acquire subscribes again after this unsubscribe.
    this.bus.unsubscribe(feed.channel).catch((err: unknown) => this.log.warn({ err }, "bus unsubscribe failed"));
  }

  /** Publishes a new chat to its application's subscribers on every process. */
  publishChatCreated(frame: ServerFrame, channel: string): Promise<void> {
    return this.bus.publish(channel, pack(frame));
  }

  /** Bus → this process. A payload that does not decode came from a foreign publisher on our prefix: dropped. */
  private receive(channel: string, payload: Uint8Array): void {
    const feed = this.feeds.get(channel);
    if (!feed) return; // unsubscribed a moment ago
    if (feed.chat === null) {
      const frame = safeUnpack(payload);
      if (!frame) return this.log.warn({ channel: "application" }, "dropped an undecodable live event");
      return this.enqueue({ feed, delivery: new Delivery(frame, Number(frame.number), false, payload) });
    }
    const event = decodeChatEvent(feed.app, feed.chat, payload);
    if (!event) return this.log.warn("dropped an undecodable live event");
    if ("frame" in event) {
      // Typing is capped per user and chat where it is passed on, so the cap holds whichever processes it came through.
      if (event.frame.op === "typing" && !this.typing.pass(`${channel}\u0000${event.exceptUser ?? ""}`)) return;
      return this.enqueue({ feed, delivery: new Delivery(event.frame, 0, false), exceptUser: event.exceptUser });
    }
    const batch = event;
    if (batch.kind !== "created") return this.enqueue({ feed, kind: batch.kind, messages: batch.messages, next: 0 });
    if (feed.repair) return this.hold(feed, batch.messages);
    const fresh = batch.messages.filter((m) => m.number > feed.last);
    if (fresh.length === 0) return;
    if (fresh[0]!.number !== feed.last + 1) return this.startRepair(feed, fresh);
    // Counted as delivered now, so later frames are checked against it even while they queue.
    feed.last = fresh[fresh.length - 1]!.number;
    this.enqueue({ feed, kind: "created", messages: fresh, next: 0 });
  }

  private hold(feed: Feed, messages: Message[]): void {
    const repair = feed.repair!;
    repair.pending.push(...messages);
    if (repair.pending.length <= this.options.maxPending) return;
    this.log.warn({ pending: repair.pending.length }, "live stream repair fell behind; its sockets resume");
    // The sockets resume by number; the stream starts over from the log's head.
    for (const socket of [...feed.direct, ...feed.members]) socket.dropSlow("the live stream fell behind");
    feed.repair = null;
    feed.last = Math.max(feed.last, repair.pending[repair.pending.length - 1]!.number);
  }

  /** Fills the stream from the chat log after a jump (lost frames) or a Bus reconnect, then goes on with the held frames. */
  private startRepair(feed: Feed, pending: Message[]): void {
    feed.repair = { pending };
    void this.runRepair(feed);
  }

  private async runRepair(feed: Feed): Promise<void> {
    const { pageSize } = this.options;
    const repair = feed.repair;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      try {
        for (;;) {
          if (!repair || feed.repair !== repair || this.feeds.get(feed.channel) !== feed) return; // released or given up meanwhile
          const until = repair.pending[0]?.number ?? Infinity;
          if (feed.last + 1 >= until) break;
          const page = await this.service.messagesSince(feed.app, feed.chat!, feed.last, pageSize);
          if (feed.repair !== repair) return;
          const missing = page.filter((m) => m.number > feed.last && m.number < until);
          if (missing.length > 0) {
            feed.last = missing[missing.length - 1]!.number;
            this.enqueue({ feed, kind: "created", messages: missing, next: 0 });
          }
          if (page.length < pageSize || missing.length === 0) break;
        }
        break;
      } catch (err) {
        if (feed.repair !== repair) return;
        this.log.warn({ err }, "live stream repair failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    if (!repair || feed.repair !== repair) return;
    feed.repair = null;
    const pending = repair.pending.filter((m) => m.number > feed.last);
    if (pending.length === 0) return;
    if (pending[0]!.number !== feed.last + 1) {
      // Neither the log nor the store has them (trimmed, or numbered and never written): nothing to wait for.
      this.log.warn({ from: feed.last + 1, to: pending[0]!.number - 1 }, "live stream skipped numbers the log no longer holds");
      feed.last = pending[0]!.number - 1;
    }
    // Held frames go through the same checks: another jump among them starts another repair.
    let run = 0;
    while (run < pending.length && pending[run]!.number === feed.last + 1 + run) run++;
    const ordered = pending.slice(0, run);
    feed.last = ordered[ordered.length - 1]!.number;
    this.enqueue({ feed, kind: "created", messages: ordered, next: 0 });
    if (run < pending.length) this.startRepair(feed, pending.slice(run));
  }

  private enqueue(work: Work): void {
    this.queue.push(work);
    if (this.queue.length === 1) this.pump();
  }

  /** Hands queued events to uWS in order, up to the sweep budget; the rest waits for the sweep. */
  private pump(): void {
    while (this.queue.length > 0 && this.sentSinceSweep < this.options.bytesPerSweep) {
      const work = this.queue[0]!;
      if ("delivery" in work) {
        this.queue.shift();
        this.dispatch(work.feed, work.delivery, work.exceptUser ?? null);
        continue;
      }
      while (work.next < work.messages.length && this.sentSinceSweep < this.options.bytesPerSweep) {
        const m = work.messages[work.next++]!;
        this.dispatch(work.feed, new Delivery(liveFrame(work.kind, m), m.number, work.kind === "created"));
      }
      if (work.next >= work.messages.length) this.queue.shift();
    }
    if (this.queue.length > 0) this.scheduleSweep();
  }

  /** `exceptUser`: that user's own sockets do not get it (their own typing). */
  private dispatch(feed: Feed, delivery: Delivery, exceptUser: string | null = null): void {
    if (this.feeds.get(feed.channel) !== feed) return; // released while it waited
    if (exceptUser !== null && [...feed.members].some((m) => m.userId === exceptUser)) return this.dispatchSkipping(feed, delivery, exceptUser);
    const packTopic = feed.topic("msgpack");
    const jsonTopic = feed.topic("json");
    const packSubscribers = this.app.numSubscribers(packTopic);
    const jsonSubscribers = this.app.numSubscribers(jsonTopic);
    if (packSubscribers > 0) {
      const bytes = delivery.bytes("msgpack");
      this.app.publish(packTopic, bytes, true);
      this.sentSinceSweep += bytes.length;
    }
    if (jsonSubscribers > 0) {
      const text = delivery.bytes("json") as string;
      this.app.publish(jsonTopic, text, false);
      this.sentSinceSweep += Buffer.byteLength(text);
    }
    countFramesSent(packSubscribers + jsonSubscribers);
    if (delivery.inStream) feed.delivered = delivery.number;
    for (const receiver of feed.direct) if (exceptUser === null || receiver.userId !== exceptUser) receiver.onLive(delivery, feed);
    if (feed.members.size > 0) {
      this.touched.add(feed);
      this.scheduleSweep();
    }
  }

  /** Socket by socket, past the topics; only for events that skip someone, which are few (typing is one per user per second). */
  private dispatchSkipping(feed: Feed, delivery: Delivery, exceptUser: string): void {
    let sent = 0;
    for (const member of feed.members) {
      if (member.userId === exceptUser) continue;
      member.deliver(delivery);
      sent++;
    }
    countFramesSent(sent);
    for (const receiver of feed.direct) if (receiver.userId !== exceptUser) receiver.onLive(delivery, feed);
  }

  /** Publishes an event of a chat that is not a message version (read, typing, presence) to its subscribers on every process. */
  publishSignal(app: string, chat: number, frame: ServerFrame, exceptUser: string | null = null): Promise<void> {
    return this.bus.publish(chatChannel(app, chat), encodeChatSignal({ frame, exceptUser }));
  }

  /**
   * One timer (the next loop iteration, after uWS wrote this one's topic
   * messages) checks the members of the feeds that got events, coalescing
   * bursts into one sweep, then lets the queue go on. Sockets past the soft
   * limit are closed with 4008.
   */
  private scheduleSweep(): void {
    if (this.sweepTimer || this.closed) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = null;
      this.sentSinceSweep = 0;
      const feeds = [...this.touched];
      this.touched.clear();
      for (const f of feeds) for (const member of [...f.members]) member.checkBackpressure();
      this.pump();
    }, 0);
  }

  close(): void {
    this.closed = true;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    this.touched.clear();
    this.queue.length = 0;
  }
}

function safeUnpack(payload: Uint8Array): ServerFrame | null {
  try {
    const frame = unpack(payload) as unknown;
    return typeof frame === "object" && frame !== null && typeof (frame as ServerFrame).op === "string" ? (frame as ServerFrame) : null;
  } catch {
    return null;
  }
}
