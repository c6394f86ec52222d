import type { AuthHook, ChatApi } from "./api.js";
import { backoffDelay, defaultBackoff, type BackoffOptions } from "./backoff.js";
import { ChatSequence } from "./chat-sequence.js";
import { jsonCodec, type Codec } from "./codec.js";
import { Emitter } from "./emitter.js";
import { SocketError } from "./errors.js";
import { newIdempotencyKey } from "./idempotency.js";
import type { FieldError, LiveChatCreated, LiveMessage, LiveMessageDeleted, LiveMessageUpdate, LivePresenceChange, LiveRead, LiveTyping, ReadState, User } from "./types.js";
import { OPEN, type WebSocketConstructor, type WebSocketLike } from "./websocket-like.js";

export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

export interface StateChange {
  state: ConnectionState;
  /** Reconnect attempts since the socket was last open. */
  attempt: number;
  /** With `reconnecting`: how long until the next attempt. */
  delayMs?: number;
  /** With `reconnecting`: the close code that ended the last socket (1001 going away, 4008 slow consumer, 1006 cut). */
  closeCode?: number;
}

export interface ChatSocketEvents {
  state: StateChange;
  /** Each message number of each subscribed chat exactly once, in increasing order per chat. */
  message: LiveMessage;
  message_updated: LiveMessageUpdate;
  /** A message was deleted; one deleted before it was delivered takes its place in the order instead of a `message`. */
  message_deleted: LiveMessageDeleted;
  chat_created: LiveChatCreated;
  presence_joined: LivePresenceChange;
  presence_left: LivePresenceChange;
  typing: LiveTyping;
  read: LiveRead;
  /** Server errors that answer no operation of the caller's, e.g. a resubscription the server refused. */
  error: SocketError;
  /** The server ended a subscription (its application now requires a user token and this socket acts for none): it is not resumed. */
  unsubscribed: { app: string; chat: number | null; error: SocketError };
}

export interface ChatSocketOptions {
  /** The REST client of the same server: the socket URL comes from its origin, and gaps are read through it. */
  api: ChatApi;
  /** Overrides the URL derived from `api` (`http(s)://host` → `ws(s)://host/ws`). */
  url?: string;
  /** Defaults to globalThis.WebSocket; in Node 20, pass the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  /** Defaults to JSON; `msgpackCodec` from `./msgpack.js` for MessagePack. */
  codec?: Codec;
  /**
   * The user token. A browser WebSocket cannot send headers, so the value
   * rides as the `access_token` query parameter of each connect (asked again
   * on every reconnect, so a refreshed token is used), and the socket acts as
   * that user in the token's application.
   */
  auth?: AuthHook;
  /** Reconnect delays (jittered exponential). */
  backoff?: Partial<BackoffOptions>;
  /** How long an out-of-order gap may stay open before REST fills it (default 2000 ms). */
  gapWaitMs?: number;
  /** A ping goes out this often; a socket that brought no frame for a whole interval after it is dropped (default 30 s; 0: off). */
  heartbeatMs?: number;
  /** Further attempts for a send or subscribe the server answered `unavailable` or `rate_limited` (default 5). */
  retries?: number;
  /** The server's WS_MAX_PAYLOAD_BYTES: a larger frame is refused here rather than closing the socket (default 128 KiB). */
  maxFrameBytes?: number;
}

export interface SendOptions {
  /**
   * The idempotency key (1–128 visible ASCII characters); generated when
   * absent. A send not acknowledged before a disconnect is sent again with
   * the same key after reconnecting, and the server answers a repeat with the
   * original number.
   */
  key?: string;
}

type ServerFrame = Record<string, unknown> & { op: string };

/** One request awaiting its reply on the current socket. */
interface Operation {
  frame: Record<string, unknown>;
  /** How many more `unavailable`/`rate_limited` answers are retried. */
  retriesLeft: number;
  onReply(frame: ServerFrame): void;
  onFail(error: SocketError): void;
}

interface Subscription {
  app: string;
  /** null: the application's chat_created stream. */
  chat: number | null;
  sequence: ChatSequence<LiveMessage | LiveMessageDeleted> | null;
  ready: Promise<void>;
  confirmed: boolean;
  resolve(): void;
  reject(error: SocketError): void;
}

const RETRYABLE = new Set(["unavailable", "rate_limited"]);
const KEY_PATTERN = /^[\x21-\x7e]{1,128}$/;

/**
 * One WebSocket for many chats that survives disconnects: it reconnects with
 * jittered exponential backoff, resubscribes every chat from the last number it
 * delivered, re-sends unacknowledged sends under their idempotency keys, and
 * delivers every message number once, in order (see ChatSequence).
 */
export class ChatSocket extends Emitter<ChatSocketEvents> {
  private readonly api: ChatApi;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly codec: Codec;
  private readonly auth: AuthHook | undefined;
  private readonly backoff: BackoffOptions;
  private readonly gapWaitMs: number;
  private readonly heartbeatMs: number;
  private readonly retries: number;
  private readonly maxFrameBytes: number;
  private readonly url: string;

  private current: ConnectionState = "closed";
  private started = false;
  private ws: WebSocketLike | null = null;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private heardSincePing = true;
  private nextRef = 1;
  /** Replies awaited on the current socket, by ref; dropped with it. */
  private readonly pending = new Map<string, Operation>();
  /** Sends not yet acknowledged: they outlive sockets. */
  private readonly outbox = new Set<Operation>();
  private readonly subscriptions = new Map<string, Subscription>();

  constructor(options: ChatSocketOptions) {
    super();
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketImpl) throw new TypeError("no WebSocket implementation: pass the `WebSocket` option (in Node 20, the `ws` package's)");
    this.api = options.api;
    this.WebSocketImpl = WebSocketImpl;
    this.codec = options.codec ?? jsonCodec;
    this.auth = options.auth;
    this.backoff = { ...defaultBackoff, ...options.backoff };
    this.gapWaitMs = options.gapWaitMs ?? 2000;
    this.heartbeatMs = options.heartbeatMs ?? 30_000;
    this.retries = options.retries ?? 5;
    this.maxFrameBytes = options.maxFrameBytes ?? 128 * 1024;
    this.url = options.url ?? `${options.api.baseUrl.replace(/^http/, "ws")}/ws`;
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** Starts connecting (and reconnecting, until close()). */
  connect(): void {
    if (this.started) return;
    this.started = true;
    void this.open();
  }

  /**
   * Subscribes to a chat from `since` (0: from its first message): the
   * messages after it are replayed, then live ones follow. Resolves once the
   * server confirmed the first time; after a reconnect the socket resumes by
   * itself from the last delivered number.
   */
  subscribe(app: string, chat: number, options: { since?: number } = {}): Promise<void> {
    return this.addSubscription(app, chat, options.since ?? 0);
  }

  /** The application's `chat_created` events (no replay: list chats again after a reconnect). */
  subscribeApplication(app: string): Promise<void> {
    return this.addSubscription(app, null, 0);
  }

  unsubscribe(app: string, chat?: number): void {
    const id = subscriptionId(app, chat ?? null);
    const sub = this.subscriptions.get(id);
    if (!sub) return;
    this.subscriptions.delete(id);
    sub.sequence?.reset();
    if (!sub.confirmed) sub.reject(new SocketError("unsubscribed", "unsubscribed before the subscription completed"));
    this.request({ op: "unsubscribe", app, ...(chat === undefined ? {} : { chat }) }, () => undefined, () => undefined, 0);
  }

  /** The last message number delivered for a chat (what a resume starts after). */
  lastDelivered(app: string, chat: number): number | undefined {
    return this.subscriptions.get(subscriptionId(app, chat))?.sequence?.last;
  }

  /**
   * Sends a message; resolves with its number once the server made it durable.
   * Sends made while disconnected wait for the next socket.
   */
  send(app: string, chat: number, body: string, options: SendOptions = {}): Promise<{ number: number }> {
    const key = options.key ?? newIdempotencyKey();
    if (!KEY_PATTERN.test(key)) return Promise.reject(new SocketError("validation_failed", "a key is 1 to 128 visible ASCII characters"));
    const frame = { op: "send", app, chat, body, key };
    if (byteLength(this.codec.encode({ ...frame, ref: "0000000000" })) > this.maxFrameBytes) {
      return Promise.reject(new SocketError("validation_failed", `the frame would exceed ${this.maxFrameBytes} bytes`));
    }
    return new Promise((resolve, reject) => {
      const op: Operation = {
        frame,
        retriesLeft: this.retries,
        onReply: (reply) => {
          this.outbox.delete(op);
          resolve({ number: reply.number as number });
        },
        onFail: (error) => {
          this.outbox.delete(op);
          reject(error);
        },
      };
      this.outbox.add(op);
      if (this.isOpen()) this.transmit(op);
    });
  }

  /**
   * Acts as the auth hook's current user token from now on, without
   * reconnecting (a socket acts as one user: renewing works, another user is
   * refused). Resolves with the user.
   */
  async authenticate(): Promise<User> {
    const token = this.auth ? await this.auth() : null;
    if (!token) throw new SocketError("unauthorized", "the auth hook gave no user token");
    return this.ask({ op: "auth", token }, (reply) => reply.user as User);
  }

  /** Tells the chat's other subscribers that this socket's user is typing (the server passes on one per second). */
  typing(app: string, chat: number): void {
    if (this.isOpen()) this.ws!.send(this.codec.encode({ op: "typing", app, chat }));
  }

  /** Moves this socket's user's read marker forward; resolves with the marker and the unread count. */
  markRead(app: string, chat: number, number: number): Promise<ReadState> {
    return this.ask({ op: "read", app, chat, number }, (reply) => ({ number: reply.number as number, unread: reply.unread as number }));
  }

  /** The chat's members now, each once. */
  presence(app: string, chat: number): Promise<User[]> {
    return this.ask({ op: "presence", app, chat }, (reply) => reply.members as User[]);
  }

  /** Closes for good: no reconnect; unacknowledged sends and unconfirmed subscriptions fail. */
  close(): void {
    this.started = false;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    this.pending.clear();
    if (ws) {
      detach(ws);
      ws.close(1000, "client closed");
    }
    const closed = new SocketError("closed", "the socket was closed");
    for (const op of [...this.outbox]) op.onFail(closed);
    for (const sub of this.subscriptions.values()) {
      sub.sequence?.reset();
      if (!sub.confirmed) sub.reject(closed);
    }
    this.subscriptions.clear();
    this.setState({ state: "closed", attempt: this.attempt });
  }

  // --- connection lifecycle

  private async open(): Promise<void> {
    this.setState({ state: "connecting", attempt: this.attempt });
    let url = this.url;
    try {
      const token = this.auth ? await this.auth() : null;
      if (token) url += `${url.includes("?") ? "&" : "?"}access_token=${encodeURIComponent(token)}`;
    } catch {
      return this.scheduleReconnect(undefined);
    }
    if (!this.started) return;
    let ws: WebSocketLike;
    try {
      ws = new this.WebSocketImpl(url, [this.codec.protocol]);
    } catch {
      return this.scheduleReconnect(undefined);
    }
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onopen = () => this.onOpen(ws);
    ws.onmessage = (event) => this.onFrame(ws, event.data);
    ws.onclose = (event) => this.onClosed(ws, event.code);
    ws.onerror = () => undefined; // a close event always follows
  }

  private onOpen(ws: WebSocketLike): void {
    if (ws !== this.ws) return;
    this.attempt = 0;
    this.setState({ state: "open", attempt: 0 });
    for (const sub of this.subscriptions.values()) this.sendSubscribe(sub);
    for (const op of this.outbox) this.transmit(op);
    this.startHeartbeat();
  }

  private onClosed(ws: WebSocketLike, code: number): void {
    if (ws !== this.ws) return;
    this.dropSocket();
    this.scheduleReconnect(code);
  }

  /** Forgets the current socket: its refs are void, held gaps are replayed by the resumed subscriptions. */
  private dropSocket(): void {
    if (this.ws) detach(this.ws);
    this.ws = null;
    this.pending.clear();
    this.stopHeartbeat();
    for (const sub of this.subscriptions.values()) sub.sequence?.reset();
  }

  private scheduleReconnect(closeCode: number | undefined): void {
    if (!this.started) return;
    // 1001 (going away) and 4008 (slow consumer) mean "resume elsewhere or later": the same path as any drop.
    const delayMs = backoffDelay(this.attempt, this.backoff);
    this.attempt++;
    this.setState({ state: "reconnecting", attempt: this.attempt, delayMs, ...(closeCode === undefined ? {} : { closeCode }) });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.open();
    }, delayMs);
  }

  private startHeartbeat(): void {
    if (this.heartbeatMs <= 0) return;
    this.heardSincePing = true;
    this.heartbeatTimer = setInterval(() => {
      if (!this.heardSincePing) {
        // Nothing at all for a whole interval after a ping: the connection is dead even if no close came.
        const ws = this.ws;
        this.dropSocket();
        ws?.close(4000, "heartbeat timeout");
        this.scheduleReconnect(undefined);
        return;
      }
      this.heardSincePing = false;
      this.request({ op: "ping" }, () => undefined, () => undefined, 0);
    }, this.heartbeatMs);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private clearTimers(): void {
    this.stopHeartbeat();
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private setState(change: StateChange): void {
    this.current = change.state;
    this.emit("state", change);
  }

  private isOpen(): boolean {
    return this.ws !== null && this.ws.readyState === OPEN && this.current === "open";
  }

  // --- subscriptions

  private addSubscription(app: string, chat: number | null, since: number): Promise<void> {
    const id = subscriptionId(app, chat);
    const existing = this.subscriptions.get(id);
    if (existing) return existing.ready;
    let resolve!: () => void;
    let reject!: (error: SocketError) => void;
    const ready = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const sub: Subscription = {
      app,
      chat,
      sequence:
        chat === null
          ? null
          : new ChatSequence<LiveMessage | LiveMessageDeleted>(since, {
              gapWaitMs: this.gapWaitMs,
              fill: (after, upTo) => this.readRange(app, chat, after, upTo),
              deliver: (item) => ("body" in item ? this.emit("message", item) : this.emit("message_deleted", item)),
            }),
      ready,
      confirmed: false,
      resolve,
      reject,
    };
    this.subscriptions.set(id, sub);
    if (this.isOpen()) this.sendSubscribe(sub);
    return ready;
  }

  private sendSubscribe(sub: Subscription): void {
    const frame = sub.chat === null ? { op: "subscribe", app: sub.app } : { op: "subscribe", app: sub.app, chat: sub.chat, since: sub.sequence!.last };
    const current = (): boolean => this.subscriptions.get(subscriptionId(sub.app, sub.chat)) === sub;
    this.request(
      frame,
      () => {
        if (!current() || sub.confirmed) return;
        sub.confirmed = true;
        sub.resolve();
      },
      (error) => {
        if (!current()) return;
        this.subscriptions.delete(subscriptionId(sub.app, sub.chat));
        if (sub.confirmed) this.emit("error", error);
        else sub.reject(error);
      },
      this.retries,
    );
  }

  /** The messages numbered in (after, upTo] that exist, over REST. */
  private async readRange(app: string, chat: number, after: number, upTo: number): Promise<LiveMessage[]> {
    const found: LiveMessage[] = [];
    for (let cursor = after; cursor < upTo; ) {
      const page = await this.api.listMessages(app, chat, { after: cursor, limit: Math.min(200, upTo - cursor) });
      for (const m of page.data) if (m.number <= upTo) found.push({ app, chat, number: m.number, body: m.body, sender: m.sender, created_at: m.created_at });
      if (page.next === null || page.data.length === 0) break;
      cursor = page.data[page.data.length - 1]!.number;
    }
    return found;
  }

  // --- frames

  /** One request on the open socket, answered once (no retry across sockets: its answer is about now). */
  private ask<T>(frame: Record<string, unknown>, answer: (reply: ServerFrame) => T): Promise<T> {
    if (!this.isOpen()) return Promise.reject(new SocketError("closed", "the socket is not open"));
    return new Promise((resolve, reject) => this.request(frame, (reply) => resolve(answer(reply)), reject, this.retries));
  }

  /** Subscribes, unsubscribes and pings belong to one socket (a new one re-makes subscriptions); only sends live in the outbox. */
  private request(frame: Record<string, unknown>, onReply: (reply: ServerFrame) => void, onFail: (error: SocketError) => void, retries: number): void {
    const op: Operation = { frame, retriesLeft: retries, onReply, onFail };
    if (this.isOpen()) this.transmit(op);
  }

  private transmit(op: Operation): void {
    const ref = `c${this.nextRef++}`;
    this.pending.set(ref, op);
    this.ws!.send(this.codec.encode({ ...op.frame, ref }));
  }

  private onFrame(ws: WebSocketLike, data: unknown): void {
    if (ws !== this.ws) return;
    this.heardSincePing = true;
    let frame: ServerFrame;
    try {
      frame = this.codec.decode(data) as ServerFrame;
    } catch (err) {
      this.emit("error", err instanceof SocketError ? err : new SocketError("invalid_frame", "a frame from the server could not be read"));
      return;
    }
    if (frame.op === "unsubscribed" && frame.ref === undefined) return this.onRevoked(frame);
    switch (frame.op) {
      case "message":
        return this.subscriptions.get(subscriptionId(frame.app as string, frame.chat as number))?.sequence?.push(liveMessage(frame));
      case "message_updated":
        if (this.subscriptions.has(subscriptionId(frame.app as string, frame.chat as number))) this.emit("message_updated", { ...liveMessage(frame), updated_at: frame.updated_at as string });
        return;
      case "message_deleted": {
        const sequence = this.subscriptions.get(subscriptionId(frame.app as string, frame.chat as number))?.sequence;
        if (!sequence) return;
        const deletion = { app: frame.app as string, chat: frame.chat as number, number: frame.number as number };
        // Past the last delivered number it holds that number's place in the order; else it is news about a delivered one.
        if (deletion.number > sequence.last) sequence.push(deletion);
        else this.emit("message_deleted", deletion);
        return;
      }
      case "chat_created":
        if (this.subscriptions.has(subscriptionId(frame.app as string, null))) this.emit("chat_created", { app: frame.app as string, number: frame.number as number });
        return;
      case "presence_joined":
      case "presence_left":
      case "typing":
        if (this.subscriptions.has(subscriptionId(frame.app as string, frame.chat as number))) {
          this.emit(frame.op, { app: frame.app as string, chat: frame.chat as number, user: frame.user as User });
        }
        return;
      case "read":
        if (this.subscriptions.has(subscriptionId(frame.app as string, frame.chat as number))) {
          this.emit("read", { app: frame.app as string, chat: frame.chat as number, user: frame.user as User, number: frame.number as number });
        }
        return;
      case "error":
        return this.onError(frame);
      default: {
        const op = typeof frame.ref === "string" ? this.pending.get(frame.ref) : undefined;
        if (!op) return;
        this.pending.delete(frame.ref as string);
        op.onReply(frame);
      }
    }
  }

  private onRevoked(frame: ServerFrame): void {
    const app = frame.app as string;
    const chat = (frame.chat as number | undefined) ?? null;
    const id = subscriptionId(app, chat);
    const sub = this.subscriptions.get(id);
    if (!sub) return;
    this.subscriptions.delete(id);
    sub.sequence?.reset();
    const error = new SocketError(frame.code as string, frame.message as string);
    if (!sub.confirmed) sub.reject(error);
    this.emit("unsubscribed", { app, chat, error });
  }

  private onError(frame: ServerFrame): void {
    const error = new SocketError(frame.code as string, frame.message as string, (frame.details as FieldError[] | undefined) ?? []);
    const op = typeof frame.ref === "string" ? this.pending.get(frame.ref) : undefined;
    if (!op) return this.emit("error", error);
    this.pending.delete(frame.ref as string);
    if (!RETRYABLE.has(error.code) || op.retriesLeft === 0) return op.onFail(error);
    const attempt = this.retries - op.retriesLeft--;
    const ws = this.ws;
    setTimeout(() => {
      // A new socket re-sends outbox operations and subscriptions by itself.
      if (this.ws === ws && this.isOpen()) this.transmit(op);
    }, backoffDelay(attempt, this.backoff));
  }
}

const subscriptionId = (app: string, chat: number | null): string => `${app}\u0000${chat ?? ""}`;

const liveMessage = (frame: ServerFrame): LiveMessage => ({
  app: frame.app as string,
  chat: frame.chat as number,
  number: frame.number as number,
  body: frame.body as string,
  sender: (frame.sender as User | null | undefined) ?? null,
  created_at: frame.created_at as string,
});

function detach(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}

function byteLength(encoded: string | Uint8Array): number {
  return typeof encoded === "string" ? new TextEncoder().encode(encoded).byteLength : encoded.byteLength;
}
