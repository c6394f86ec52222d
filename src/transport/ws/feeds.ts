import { unpack } from "msgpackr";
import type { TemplatedApp } from "uWebSockets.js";
import type { Logger } from "../../log.js";
import type { Bus } from "../../ports/bus.js";
import { countFramesSent } from "./frames-sent.js";
import type { Encoding, ServerFrame } from "./protocol.js";

/**
 * One live event as this process received it from the Bus. The bus payload is
 * already the MessagePack frame (the sending process packed it once); the JSON
 * text is made at most once per event per process, and only when a JSON
 * socket needs it. Subscribers share these bytes: nothing is encoded per socket.
 */
export class Delivery {
  private decoded: ServerFrame | undefined;
  private text: string | undefined;

  constructor(readonly packed: Uint8Array) {}

  get frame(): ServerFrame {
    return (this.decoded ??= unpack(this.packed) as ServerFrame);
  }
  get op(): string {
    return this.frame.op;
  }
  /** The message number; chat_created events carry the chat number here. */
  get number(): number {
    return this.frame.number as number;
  }
  get json(): string {
    return (this.text ??= JSON.stringify(this.frame));
  }
  bytes(encoding: Encoding): string | Uint8Array {
    return encoding === "json" ? this.json : this.packed;
  }
}

/** A socket-side subscription that wants live events one by one (while it resumes). */
export interface DirectReceiver {
  onLive(delivery: Delivery): void;
}

/** What a feed needs to know about the sockets on its topics (for the backpressure sweep). */
export interface FeedMember {
  /** Returns true when the socket was closed for being slow. */
  checkBackpressure(): boolean;
}

/**
 * Everything this process does for one Bus channel (a chat, or an application's
 * chat_created stream): the Bus subscription, held while ≥1 local socket needs
 * it (ref-counted), the two uWS topics (one per encoding), and the sockets that
 * are still resuming and take events one by one.
 */
export class Feed {
  refs = 0;
  /** Settles once the Bus confirmed the subscription: from then on every publish reaches this process. */
  ready!: Promise<void>;
  failed = false;
  /** Sockets subscribed to one of the topics. */
  readonly members = new Set<FeedMember>();
  /** Subscriptions replaying or settling: they get every event directly, filtered per socket. */
  readonly direct = new Set<DirectReceiver>();

  constructor(readonly channel: string) {}

  topic(encoding: Encoding): string {
    return `${encoding === "json" ? "j" : "m"}|${this.channel}`;
  }
}

/** All feeds of this process, keyed by Bus channel, plus the fanout from the Bus into uWS topics. */
export class Feeds {
  private readonly feeds = new Map<string, Feed>();
  private readonly touched = new Set<Feed>();
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly app: TemplatedApp,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {
    bus.onMessage((channel, payload) => this.deliver(channel, payload));
  }

  get size(): number {
    return this.feeds.size;
  }

  /** Subscriptions still replaying or settling (taking events one by one). */
  get resuming(): number {
    let n = 0;
    for (const feed of this.feeds.values()) n += feed.direct.size;
    return n;
  }

  /** Takes a reference on the channel's feed, subscribing the Bus on the first one. */
  acquire(channel: string): Feed {
    let feed = this.feeds.get(channel);
    if (!feed || feed.failed) {
      const fresh = new Feed(channel);
      fresh.ready = this.bus.subscribe(channel).catch((err: unknown) => {
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
    // Issued on the same connection after any earlier subscribe, so the order holds;
    // a later acquire subscribes again after this unsubscribe.
    this.bus.unsubscribe(feed.channel).catch((err: unknown) => this.log.warn({ err }, "bus unsubscribe failed"));
  }

  /**
   * Bus → this process. Events of one channel arrive in the order their sender
   * published them (the sender publishes in number order), and are handed to
   * uWS topics and direct receivers synchronously, so that order holds here too.
   */
  private deliver(channel: string, payload: Uint8Array): void {
    const feed = this.feeds.get(channel);
    if (!feed) return; // unsubscribed a moment ago
    const delivery = new Delivery(payload);
    try {
      // Decoded once per event per process (resume filters need the number). A payload
      // that does not decode came from a foreign publisher on our prefix: dropped.
      const frame = delivery.frame;
      if (typeof frame !== "object" || frame === null || typeof frame.op !== "string" || typeof frame.number !== "number") throw new Error("not a live frame");
    } catch (err) {
      this.log.warn({ err }, "dropped an undecodable live event");
      return;
    }
    const packTopic = feed.topic("msgpack");
    const jsonTopic = feed.topic("json");
    const packSubscribers = this.app.numSubscribers(packTopic);
    const jsonSubscribers = this.app.numSubscribers(jsonTopic);
    if (packSubscribers > 0) this.app.publish(packTopic, payload, true);
    if (jsonSubscribers > 0) this.app.publish(jsonTopic, delivery.json, false);
    countFramesSent(packSubscribers + jsonSubscribers);
    for (const receiver of feed.direct) receiver.onLive(delivery);
    if (feed.members.size > 0) this.touch(feed);
  }

  /**
   * uWS writes topic messages to sockets when the loop iteration ends, so a
   * socket's backlog is only visible after that. A timer (next iteration)
   * checks the members of the feeds that got events, coalescing bursts into
   * one sweep. Sockets past the soft limit are closed with 4008 long before
   * uWS's own hard limit (which closes without a close frame).
   */
  private touch(feed: Feed): void {
    this.touched.add(feed);
    if (this.sweepTimer) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = null;
      const feeds = [...this.touched];
      this.touched.clear();
      for (const f of feeds) for (const member of [...f.members]) member.checkBackpressure();
    }, 1);
  }

  close(): void {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    this.touched.clear();
  }
}
