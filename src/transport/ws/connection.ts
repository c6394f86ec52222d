import type { WebSocket } from "uWebSockets.js";
import type { Identity } from "../../domain/user-token.js";
import { countFramesSent } from "./frames-sent.js";
import { CloseCode, encodeFrame, type Encoding, type ServerFrame } from "./protocol.js";
import type { Subscription } from "./subscription.js";

export interface ConnectionLimits {
  /** uWS's hard limit (closeOnBackpressureLimit closes without a close frame past it). */
  maxBackpressureBytes: number;
  /** Past this backlog the server closes with 4008 itself: half the hard limit. */
  softBackpressureBytes: number;
  sendsPerSecond: number;
}

let nextId = 1;

/**
 * One client socket: its negotiated encoding, its subscriptions, its send
 * budget. The uWS user data points to it, so handlers reach it from the socket; after
 * `closed` is set (by the close handler) the uWS socket is never touched again.
 */
export class Connection {
  readonly id = nextId++;
  ws: WebSocket<{ conn: Connection }> | null = null;
  closed = false;
  readonly subs = new Map<string, Subscription>();
  /** Who the socket acts as (its `auth` or `access_token`); null: anonymous. */
  identity: Identity | null = null;
  private expiry: NodeJS.Timeout | null = null;
  private tokens: number;
  private tokensAt: number;
  private drainWaiters: { threshold: number; resolve: () => void }[] = [];

  constructor(
    readonly encoding: Encoding,
    readonly limits: ConnectionLimits,
    private readonly onSlowConsumer: (conn: Connection, why: string) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = limits.sendsPerSecond;
    this.tokensAt = now();
  }

  get open(): boolean {
    return !this.closed && this.ws !== null;
  }

  /** Encodes and sends one frame; a no-op once the socket is closed. */
  send(frame: ServerFrame): void {
    if (!this.open) return;
    this.ws!.send(encodeFrame(frame, this.encoding), this.encoding === "msgpack");
    countFramesSent(1);
    // Replies count too: a client that sends but never reads its acks is a slow consumer.
    this.checkBackpressure();
  }

  /** Sends bytes already encoded in this socket's encoding (shared live frames). */
  sendEncoded(bytes: string | Uint8Array): void {
    if (!this.open) return;
    this.ws!.send(bytes, this.encoding === "msgpack");
    countFramesSent(1);
  }

  cork(fn: () => void): void {
    if (this.open) this.ws!.cork(fn);
  }

  bufferedAmount(): number {
    return this.open ? this.ws!.getBufferedAmount() : 0;
  }

  /** Closes with a code and reason (the close handler runs synchronously inside). */
  end(code: number, reason: string): void {
    if (!this.open) return;
    this.ws!.end(code, reason);
  }

  /** The slow-consumer rule for frames this process sends or publishes to the socket. */
  checkBackpressure(): boolean {
    if (!this.open) return false;
    const buffered = this.ws!.getBufferedAmount();
    if (buffered <= this.limits.softBackpressureBytes) return false;
    this.dropSlow(`${buffered} bytes unsent`);
    return true;
  }

  /**
   * Closes with 4008. The close frame queues behind the unsent backlog: a client
   * that reads again within uWS's close timeout (about 4 s) sees 4008; after
   * that uWS drops the TCP connection and the client sees 1006.
   */
  dropSlow(why: string): void {
    if (!this.open) return;
    this.onSlowConsumer(this, why);
    this.end(CloseCode.slowConsumer, "slow consumer");
  }

  /** Resolves once the backlog is at most `threshold` bytes, or the socket closed. */
  drained(threshold: number): Promise<void> {
    if (!this.open || this.bufferedAmount() <= threshold) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push({ threshold, resolve }));
  }

  onDrain(): void {
    if (this.drainWaiters.length === 0) return;
    const buffered = this.bufferedAmount();
    const ready = this.drainWaiters.filter((w) => buffered <= w.threshold);
    if (ready.length === 0) return;
    this.drainWaiters = this.drainWaiters.filter((w) => buffered > w.threshold);
    for (const w of ready) w.resolve();
  }

  /** Token bucket: `sendsPerSecond` per second, bursts up to the same. Returns whether a token was taken. */
  take(): boolean {
    const now = this.now();
    const rate = this.limits.sendsPerSecond;
    this.tokens = Math.min(rate, this.tokens + ((now - this.tokensAt) / 1000) * rate);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Acts as `identity` from now on; at its `exp` the socket is closed (4401) unless a later `auth` renewed it. */
  authenticate(identity: Identity): void {
    this.identity = identity;
    if (this.expiry) clearTimeout(this.expiry);
    const check = (): void => {
      const left = identity.expiresAt - this.now();
      if (left <= 0) return this.end(CloseCode.tokenExpired, "token expired");
      // Timers take at most 2^31-1 ms (about 24.8 days); a token may live 30.
      this.expiry = setTimeout(check, Math.min(left, 2 ** 31 - 1));
      this.expiry.unref();
    };
    check();
  }

  /** Called from the uWS close handler: everything async that holds this socket stops here. */
  onClose(): void {
    this.closed = true;
    if (this.expiry) clearTimeout(this.expiry);
    this.ws = null;
    for (const sub of this.subs.values()) sub.end(false);
    this.subs.clear();
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w.resolve();
  }
}
