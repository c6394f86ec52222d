import type { ChatService } from "../../domain/chat-service.js";
import type { Message } from "../../domain/types.js";
import type { Connection } from "./connection.js";
import type { Delivery, DirectReceiver, Feed, FeedMember, Feeds } from "./feeds.js";
import { encodeFrame, messageFrame } from "./protocol.js";

export interface SubscriptionOptions {
  /** Messages per replay read (the REST page maximum). */
  pageSize: number;
  /** Live events one resuming socket may hold while its replay runs; past it the socket is closed with 4008. */
  maxBuffered: number;
  /** How long a resumed socket keeps filtering live events one by one before it joins the shared topic. */
  settleMs: number;
  /** Replay stops writing while the socket's backlog is above this, and continues on drain. */
  replayPauseBytes: number;
}

export type Phase = "joining" | "replaying" | "settling" | "live" | "ended";

/**
 * Numbers in (since, last] that the replay did not return: allocated but not
 * yet readable when the replay passed them (a concurrent send on another
 * process, still waiting for its RabbitMQ confirm), or never written. Kept as
 * sorted disjoint ranges, appended in ascending order, so memory is per gap,
 * not per message.
 */
class Holes {
  private readonly from: number[] = [];
  private readonly to: number[] = [];

  add(from: number, to: number): void {
    if (from <= to) {
      this.from.push(from);
      this.to.push(to);
    }
  }

  has(n: number): boolean {
    let lo = 0;
    let hi = this.from.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (n < this.from[mid]!) hi = mid - 1;
      else if (n > this.to[mid]!) lo = mid + 1;
      else return true;
    }
    return false;
  }
}

/**
 * One socket's subscription to one chat (or to an application's chat_created
 * events), from the `subscribe` frame to `unsubscribe` or close.
 *
 * ## Resume without gap or duplicate (`subscribe {since: N}`)
 *
 * Facts it relies on: (1) every process calls `onLive` only after the message
 * is readable through `messagesSince` (the service writes the recent buffer,
 * then emits), and publishes on the Bus in that order; (2) once the Bus
 * confirmed our subscription, every later publish on the channel reaches this
 * process; (3) the Bus delivers each event once.
 *
 * 1. Join the chat's feed and wait for the Bus subscription (2).
 * 2. Register as a *direct receiver* of the feed: from now on every live event
 *    of the chat that reaches this process is also handed to this object, in
 *    arrival order, and buffered here (bounded: `maxBuffered`, else 4008).
 *    Buffered entries are references to the feed's shared encoded frames.
 * 3. Replay: read pages after N until a page comes back short. Every read
 *    starts after step 2, so any event that reached this process before step 2
 *    was published before it, hence readable (1), hence replayed. A replayed
 *    number is removed from the buffer (it will not be sent twice); gaps
 *    between replayed numbers are remembered as holes (`Holes`).
 * 4. Flush the buffer: a buffered message n is sent iff n > N and (n > last
 *    replayed or n is a hole). n ≤ last and not a hole means n was replayed
 *    (its live event arrived after the replay passed it): dropped. Sent in
 *    number order; edits (`message_updated`) are always sent.
 * 5. Settle: the same filter keeps applying to live events sent one by one for
 *    `settleMs`, because a replayed message's own live event can still be on
 *    its way (the sender made it readable a moment before publishing it).
 *    Then, synchronously between two events, the socket subscribes to the
 *    uWS topic and stops being a direct receiver: no event can fall between.
 *    A replay that returned nothing skips this step (nothing to duplicate).
 *
 * Why not a per-process ring of recent events instead of per-socket buffers:
 * the ring would have to hold every event since the *slowest* replay began (or
 * the resume would have a gap when it overflowed), which is the same bound per
 * replaying socket, shared but no smaller; the per-socket buffer only holds
 * references to shared frames and is freed when the socket goes live.
 *
 * Residual: if a sending process stalls longer than `settleMs` between making
 * a message readable and publishing it (a frozen process), a resumed socket
 * can see that one number twice. Numbers identify messages, so clients that
 * must be exact dedupe by number; nothing is ever missing.
 */
export class Subscription implements DirectReceiver, FeedMember {
  phase: Phase = "joining";
  private feed: Feed | null = null;
  private readonly buffered = new Map<number, Delivery>();
  private updates: Delivery[] = [];
  private since = 0;
  private last = 0;
  private readonly holes = new Holes();
  private settleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly conn: Connection,
    readonly app: string,
    readonly chat: number | null,
    readonly channel: string,
    private readonly service: ChatService,
    private readonly feeds: Feeds,
    private readonly options: SubscriptionOptions,
  ) {}

  /** Validates the target, joins the feed, replays if asked; resolves with the number of replayed messages once live. */
  async start(since: number | undefined): Promise<number> {
    if (this.chat === null) await this.service.getApplication(this.app);
    else await this.service.getChat(this.app, this.chat);
    if (this.isEnded()) return 0;
    const feed = this.feeds.acquire(this.channel);
    this.feed = feed;
    await feed.ready;
    if (this.isEnded() || this.chat === null || since === undefined) {
      if (!this.isEnded()) this.goLive();
      return 0;
    }

    this.phase = "replaying";
    this.since = since;
    this.last = since;
    feed.direct.add(this);
    const replayed = await this.replay(this.chat);
    if (this.phase !== "replaying") return replayed; // ended meanwhile
    this.flush();
    if (this.phase !== "replaying") return replayed; // closed as a slow consumer by the flush
    if (replayed === 0) {
      this.goLive();
    } else {
      this.phase = "settling";
      this.settleTimer = setTimeout(() => this.phase === "settling" && this.goLive(), this.options.settleMs);
    }
    return replayed;
  }

  private async replay(chat: number): Promise<number> {
    const { pageSize, replayPauseBytes } = this.options;
    let replayed = 0;
    for (;;) {
      const page: Message[] = await this.service.messagesSince(this.app, chat, this.last, pageSize);
      let i = 0;
      while (i < page.length) {
        if (this.phase !== "replaying") return replayed;
        this.conn.cork(() => {
          while (i < page.length && this.conn.bufferedAmount() <= replayPauseBytes) {
            const m = page[i++]!;
            if (m.number <= this.last) continue; // pages are ascending; never twice
            this.holes.add(this.last + 1, m.number - 1);
            this.last = m.number;
            this.buffered.delete(m.number);
            this.conn.sendEncoded(encodeFrame(messageFrame(m), this.conn.encoding));
            replayed++;
          }
        });
        if (i < page.length) await this.conn.drained(replayPauseBytes);
        if (!this.conn.open) return replayed;
      }
      if (page.length < pageSize || this.phase !== "replaying") return replayed;
    }
  }

  private wanted(number: number): boolean {
    return number > this.since && (number > this.last || this.holes.has(number));
  }

  private flush(): void {
    const messages = [...this.buffered.values()].filter((d) => this.wanted(d.number)).sort((a, b) => a.number - b.number);
    const updates = this.updates;
    this.buffered.clear();
    this.updates = [];
    this.conn.cork(() => {
      for (const d of messages) this.conn.sendEncoded(d.bytes(this.conn.encoding));
      for (const u of updates) this.conn.sendEncoded(u.bytes(this.conn.encoding));
    });
    this.conn.checkBackpressure();
  }

  /** Live event for this chat while replaying (buffer) or settling (filter and send). */
  onLive(delivery: Delivery): void {
    const isMessage = delivery.op === "message";
    if (this.phase === "replaying") {
      if (this.buffered.size + this.updates.length >= this.options.maxBuffered) {
        this.conn.dropSlow(`more than ${this.options.maxBuffered} live events arrived during its replay`);
        return;
      }
      if (isMessage) this.buffered.set(delivery.number, delivery);
      else this.updates.push(delivery);
      return;
    }
    if (this.phase !== "settling") return;
    if (isMessage && !this.wanted(delivery.number)) return;
    this.conn.sendEncoded(delivery.bytes(this.conn.encoding));
    this.conn.checkBackpressure();
  }

  checkBackpressure(): boolean {
    return this.conn.checkBackpressure();
  }

  private goLive(): void {
    const feed = this.feed!;
    feed.direct.delete(this);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    if (!this.conn.open) return;
    this.conn.ws!.subscribe(feed.topic(this.conn.encoding));
    feed.members.add(this);
    this.phase = "live";
  }

  /** A method, not a field test: the phase changes across awaits. */
  private isEnded(): boolean {
    return this.phase === "ended";
  }

  /** Unsubscribe or socket close. `socketOpen` false: uWS already dropped the socket's topics. */
  end(socketOpen: boolean): void {
    if (this.phase === "ended") return;
    const wasLive = this.phase === "live";
    this.phase = "ended";
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    this.buffered.clear();
    this.updates = [];
    const feed = this.feed;
    if (!feed) return;
    feed.direct.delete(this);
    feed.members.delete(this);
    if (wasLive && socketOpen && this.conn.open) this.conn.ws!.unsubscribe(feed.topic(this.conn.encoding));
    this.feeds.release(feed);
    this.feed = null;
  }
}
