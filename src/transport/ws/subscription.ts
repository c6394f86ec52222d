import type { ChatService } from "../../domain/chat-service.js";
import type { Message } from "../../domain/types.js";
import type { Connection } from "./connection.js";
import type { Delivery, DirectReceiver, Feed, Feeds } from "./feeds.js";
import { encodeFrame, liveFrame } from "./protocol.js";

export interface SubscriptionOptions {
  /** Messages per replay read (the REST page maximum). */
  pageSize: number;
  /** Live events one resuming socket may hold while its replay runs; past it the socket is closed with 4008. */
  maxBuffered: number;
  /** Replay stops writing while the socket's backlog is above this, and continues on drain. */
  replayPauseBytes: number;
}

export type Phase = "joining" | "replaying" | "catching_up" | "live" | "ended";

/**
 * One socket's subscription to one chat (or to an application's chat_created
 * events), from the `subscribe` frame to `unsubscribe` or close.
 *
 * ## Resume without gap or duplicate, by number alone (`subscribe {since: N}`)
 *
 * Facts it relies on: (1) a message is numbered, readable in the chat log
 * and published in one atomic step (ChatLog.append), so anything published
 * before a log read is in that read, and the numbers published after it are
 * higher than every number it returned; (2) this process's feed delivers the
 * chat's numbers in order and without gaps (Feeds repairs jumps from the
 * log), from the moment its Bus subscription was confirmed.
 *
 * 1. Join the chat's feed and wait until it is subscribed.
 * 2. Register as a direct receiver: every event the feed delivers from now
 *    on is handed to this object too, and buffered (bounded: `maxBuffered`,
 *    else 4008). Buffered entries are the feed's shared frames.
 * 3. Replay: read pages after N until a page comes back short, and send
 *    them; `sent` is the highest number sent. By (1), every message above
 *    `sent` is published after the last read, so the feed delivers it.
 * 4. Send the buffered messages above `sent`, in order.
 * 5. The feed may still be behind `sent` (a replayed message's own frame
 *    can arrive after the read that returned it). Until the feed has handed
 *    out `sent` (its `delivered` position), keep taking its events one by
 *    one, sending only numbers above `sent`. Once it has, every later event
 *    is above `sent`: join the shared uWS topic, synchronously between two
 *    events, so none falls between. No timer is involved.
 */
export class Subscription implements DirectReceiver {
  phase: Phase = "joining";
  private feed: Feed | null = null;
  private readonly buffered = new Map<number, Delivery>();
  private updates: Delivery[] = [];
  private onEnd: (() => void) | null = null;
  /** Highest message number sent to this socket on this chat. */
  private sent = 0;

  constructor(
    private readonly conn: Connection,
    readonly app: string,
    readonly chat: number | null,
    private readonly service: ChatService,
    private readonly feeds: Feeds,
    private readonly options: SubscriptionOptions,
  ) {}

  /** Validates the target, joins the feed, replays if asked; resolves with the number of replayed messages once it is delivering. */
  async start(since: number | undefined): Promise<number> {
    if (this.chat === null) await this.service.getApplication(this.app);
    else await this.service.getChat(this.app, this.chat);
    if (this.isEnded()) return 0;
    const feed = this.feeds.acquire(this.app, this.chat);
    this.feed = feed;
    await feed.ready;
    if (this.isEnded()) return 0;
    if (this.chat === null || since === undefined) {
      this.goLive();
      return 0;
    }

    this.phase = "replaying";
    this.sent = since;
    feed.direct.add(this);
    const replayed = await this.replay(this.chat);
    if (this.phase !== "replaying") return replayed; // ended meanwhile
    this.flush();
    if (this.phase !== "replaying") return replayed; // closed as a slow consumer by the flush
    if (feed.delivered >= this.sent) this.goLive();
    else this.phase = "catching_up";
    return replayed;
  }

  private async replay(chat: number): Promise<number> {
    const { pageSize, replayPauseBytes } = this.options;
    let replayed = 0;
    for (;;) {
      const page: Message[] = await this.service.messagesSince(this.app, chat, this.sent, pageSize);
      let i = 0;
      while (i < page.length) {
        if (this.phase !== "replaying") return replayed;
        this.conn.cork(() => {
          while (i < page.length && this.conn.bufferedAmount() <= replayPauseBytes) {
            const m = page[i++]!;
            if (m.number <= this.sent) continue; // pages are ascending; never twice
            this.sent = m.number;
            this.buffered.delete(m.number);
            this.conn.sendEncoded(encodeFrame(liveFrame("created", m), this.conn.encoding));
            replayed++;
          }
        });
        if (i < page.length) await this.conn.drained(replayPauseBytes);
        if (!this.conn.open) return replayed;
      }
      if (page.length < pageSize || this.phase !== "replaying") return replayed;
    }
  }

  /** Sends what arrived live during the replay and the replay did not cover, in number order; edits after. */
  private flush(): void {
    const messages = [...this.buffered.values()].filter((d) => d.number > this.sent).sort((a, b) => a.number - b.number);
    const updates = this.updates;
    this.buffered.clear();
    this.updates = [];
    this.conn.cork(() => {
      for (const d of messages) this.conn.sendEncoded(d.bytes(this.conn.encoding));
      for (const u of updates) this.conn.sendEncoded(u.bytes(this.conn.encoding));
    });
    if (messages.length > 0) this.sent = messages[messages.length - 1]!.number;
    this.conn.checkBackpressure();
  }

  /** Live event for this chat while replaying (buffer) or catching up (filter, send, and join the topic once the feed passed `sent`). */
  onLive(delivery: Delivery, feed: Feed): void {
    const isMessage = delivery.inStream;
    if (this.phase === "replaying") {
      if (this.buffered.size + this.updates.length >= this.options.maxBuffered) {
        this.conn.dropSlow(`more than ${this.options.maxBuffered} live events arrived during its replay`);
        return;
      }
      if (isMessage) this.buffered.set(delivery.number, delivery);
      else this.updates.push(delivery);
      return;
    }
    if (this.phase !== "catching_up") return;
    if (!isMessage || delivery.number > this.sent) {
      this.conn.sendEncoded(delivery.bytes(this.conn.encoding));
      if (isMessage) this.sent = delivery.number;
      if (this.conn.checkBackpressure()) return;
    }
    if (feed.delivered >= this.sent) this.goLive();
  }

  checkBackpressure(): boolean {
    return this.conn.checkBackpressure();
  }

  get userId(): string | null {
    const identity = this.conn.identity;
    return identity && identity.app === this.app ? identity.user.id : null;
  }

  deliver(delivery: Delivery): void {
    this.conn.sendEncoded(delivery.bytes(this.conn.encoding));
    this.conn.checkBackpressure();
  }

  dropSlow(why: string): void {
    this.conn.dropSlow(why);
  }

  private goLive(): void {
    const feed = this.feed!;
    feed.direct.delete(this);
    if (!this.conn.open) return;
    this.conn.ws!.subscribe(feed.topic(this.conn.encoding));
    feed.members.add(this);
    this.phase = "live";
  }

  /** A method, not a field test: the phase changes across awaits. */
  private isEnded(): boolean {
    return this.phase === "ended";
  }

  /** Runs once when the subscription ends (its user leaves presence). */
  whenEnded(onEnd: () => void): void {
    this.onEnd = onEnd;
  }

  /** Unsubscribe or socket close. `socketOpen` false: uWS already dropped the socket's topics. */
  end(socketOpen: boolean): void {
    if (this.phase === "ended") return;
    const wasLive = this.phase === "live";
    this.phase = "ended";
    this.onEnd?.();
    this.onEnd = null;
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
