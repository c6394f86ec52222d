import { pack } from "msgpackr";
import type { TemplatedApp, WebSocket } from "uWebSockets.js";
import type { Config } from "../../config.js";
import type { ChatService, LiveEvent } from "../../domain/chat-service.js";
import { DomainError } from "../../domain/errors.js";
import { limits } from "../../domain/limits.js";
import type { Logger } from "../../log.js";
import type { Bus } from "../../ports/bus.js";
import { Connection } from "./connection.js";
import { Feeds } from "./feeds.js";
import {
  appChannel,
  chatChannel,
  CloseCode,
  decodeFrame,
  FrameError,
  liveFrame,
  negotiate,
  refOf,
  validateFrame,
  type ClientFrame,
  type Ref,
  type ServerFrame,
  type WsErrorCode,
} from "./protocol.js";
import { Subscription, type SubscriptionOptions } from "./subscription.js";

export interface RealtimeDeps {
  service: ChatService;
  bus: Bus;
  limits: Config["ws"];
  log: Logger;
  /** Resume tuning; defaults suit production. */
  resume?: Partial<SubscriptionOptions>;
}

export interface Realtime {
  /** The ChatService's onLive: encodes the event once and publishes it on the Bus. */
  onLive(event: LiveEvent): void;
  /** Local numbers, for logs and tests. */
  stats(): { connections: number; feeds: number; resuming: number; slowConsumers: number };
  /** Graceful shutdown: every socket gets 1001 going away. */
  close(): Promise<void>;
}

/**
 * uWS closes a socket whose frame exceeds maxPayloadLength without a close
 * frame (the client sees 1006). We let uWS accept frames up to twice the
 * configured limit and close those above the limit ourselves with 1009, so
 * the usual oversize frame gets a close code that says why; only frames past
 * twice the limit get the abrupt close.
 */
const HARD_PAYLOAD_FACTOR = 2;

/** uWS copies the user data object's own fields (not its prototype): the connection rides in a field. */
interface UserData {
  conn: Connection;
}

/** Mounts `/ws` on the uWS app (SPEC §4). Call after the HTTP routes. */
export function mountRealtime(app: TemplatedApp, deps: RealtimeDeps): Realtime {
  const { service, bus, log } = deps;
  const cfg = deps.limits;
  const connections = new Set<Connection>();
  const feeds = new Feeds(app, bus, log);
  const resume: SubscriptionOptions = {
    pageSize: limits.pageMax,
    maxBuffered: 10_000,
    settleMs: 2000,
    replayPauseBytes: Math.max(1024, Math.floor(cfg.maxBackpressureBytes / 8)),
    ...deps.resume,
  };
  const connectionLimits = {
    maxBackpressureBytes: cfg.maxBackpressureBytes,
    softBackpressureBytes: Math.floor(cfg.maxBackpressureBytes / 2),
    sendsPerSecond: cfg.sendsPerSecond,
  };
  let closing = false;
  let slowConsumers = 0;
  let lostLiveEvents = 0;
  let lastLossLog = 0;
  const onSlowConsumer = (conn: Connection, why: string): void => {
    slowConsumers++;
    log.info({ conn: conn.id, why }, "closing a slow consumer (4008)");
  };

  app.ws<UserData>("/ws", {
    maxPayloadLength: cfg.maxPayloadBytes * HARD_PAYLOAD_FACTOR,
    maxBackpressure: cfg.maxBackpressureBytes,
    // Typed as a number in the uWS typings; any truthy value enables it. Past the hard
    // limit uWS stops writing and shuts the socket (no close frame: the client sees 1006).
    closeOnBackpressureLimit: 1,
    idleTimeout: cfg.idleTimeoutSeconds,
    sendPingsAutomatically: true,

    upgrade: (res, req, context) => {
      // Headers are only readable synchronously, in this callback.
      const key = req.getHeader("sec-websocket-key");
      const offered = req.getHeader("sec-websocket-protocol");
      const extensions = req.getHeader("sec-websocket-extensions");
      if (closing) {
        res.cork(() => res.writeStatus("503 Service Unavailable").writeHeader("Retry-After", "1").end("shutting down"));
        return;
      }
      const chosen = negotiate(offered);
      if (!chosen) {
        const body = JSON.stringify({ error: { code: "validation_failed", message: "unsupported WebSocket subprotocol: offer chat.v1.json or chat.v1.msgpack" } });
        res.cork(() => res.writeStatus("400 Bad Request").writeHeader("Content-Type", "application/json").end(body));
        return;
      }
      const userData: UserData = { conn: new Connection(chosen.encoding, connectionLimits, onSlowConsumer) };
      res.upgrade(userData, key, chosen.protocol, extensions, context);
    },

    open: (ws: WebSocket<UserData>) => {
      const conn = ws.getUserData().conn;
      conn.ws = ws;
      connections.add(conn);
    },

    message: (ws, data, isBinary) => {
      const conn = ws.getUserData().conn;
      if (data.byteLength > cfg.maxPayloadBytes) {
        conn.end(CloseCode.messageTooBig, "message too big");
        return;
      }
      let frame: ClientFrame;
      let raw: unknown;
      try {
        raw = decodeFrame(data, isBinary, conn.encoding);
        frame = validateFrame(raw);
      } catch (err) {
        if (err instanceof FrameError) sendError(conn, err.ref ?? refOf(raw), err.code, err.message, err.details);
        else sendError(conn, refOf(raw), "invalid_frame", "the frame could not be read");
        return;
      }
      handle(conn, frame);
    },

    drain: (ws) => ws.getUserData().conn.onDrain(),

    close: (ws) => {
      const conn = ws.getUserData().conn;
      connections.delete(conn);
      conn.onClose();
    },
  });

  function handle(conn: Connection, frame: ClientFrame): void {
    const ref = frame.ref;
    switch (frame.op) {
      case "ping":
        conn.send(withRef({ op: "pong" }, ref));
        return;
      case "send":
        if (!conn.take()) return sendError(conn, ref, "rate_limited", `at most ${cfg.sendsPerSecond} sends and subscribes per second per socket`);
        service.createMessage(frame.app, frame.chat, frame.body).then(
          (message) => conn.send(withRef({ op: "ack", number: message.number }, ref)),
          (err: unknown) => failed(conn, ref, err, "send"),
        );
        return;
      case "subscribe":
        return subscribe(conn, frame, ref);
      case "unsubscribe": {
        const channel = frame.chat === undefined ? appChannel(frame.app) : chatChannel(frame.app, frame.chat);
        const sub = conn.subs.get(channel);
        if (sub) {
          conn.subs.delete(channel);
          sub.end(true);
        }
        conn.send(withRef(target({ op: "unsubscribed" }, frame.app, frame.chat), ref));
        return;
      }
    }
  }

  function subscribe(conn: Connection, frame: Extract<ClientFrame, { op: "subscribe" }>, ref: Ref | undefined): void {
    const chat = frame.chat ?? null;
    const channel = chat === null ? appChannel(frame.app) : chatChannel(frame.app, chat);
    if (conn.subs.has(channel)) return sendError(conn, ref, "already_subscribed", "this socket already subscribes to it; unsubscribe first to resume from another number");
    if (conn.subs.size >= cfg.maxSubscriptions) return sendError(conn, ref, "too_many_subscriptions", `at most ${cfg.maxSubscriptions} subscriptions per socket`);
    if (!conn.take()) return sendError(conn, ref, "rate_limited", `at most ${cfg.sendsPerSecond} sends and subscribes per second per socket`);
    const sub = new Subscription(conn, frame.app, chat, channel, service, feeds, resume);
    conn.subs.set(channel, sub);
    sub.start(frame.since).then(
      (replayed) => {
        if (sub.phase === "ended") return;
        const reply = target({ op: "subscribed" }, frame.app, frame.chat);
        if (frame.since !== undefined) reply.replayed = replayed;
        conn.send(withRef(reply, ref));
      },
      (err: unknown) => {
        if (conn.subs.get(channel) === sub) conn.subs.delete(channel);
        sub.end(true);
        failed(conn, ref, err, "subscribe");
      },
    );
  }

  function failed(conn: Connection, ref: Ref | undefined, err: unknown, op: string): void {
    if (err instanceof DomainError) return sendError(conn, ref, err.code, err.message);
    log.error({ err, op, conn: conn.id }, "websocket operation failed");
    sendError(conn, ref, "unavailable", "a backend is unavailable; retry shortly");
  }

  function sendError(conn: Connection, ref: Ref | undefined, code: WsErrorCode, message: string, details?: { field: string; message: string }[]): void {
    const frame: ServerFrame = withRef({ op: "error", code, message }, ref);
    if (details && details.length > 0) frame.details = details;
    conn.send(frame);
  }

  return {
    onLive(event) {
      const { channel, frame } = liveFrame(event);
      // Packed once, here; every process (this one too) fans it out from the Bus.
      bus.publish(channel, pack(frame)).catch((err: unknown) => {
        // The write itself is durable; subscribers fill the gap by resuming. One line per 10 s, not per event.
        lostLiveEvents++;
        const now = Date.now();
        if (now - lastLossLog < 10_000) return;
        lastLossLog = now;
        log.warn({ err, lost: lostLiveEvents }, "live events not published on the bus");
      });
    },
    stats: () => ({ connections: connections.size, feeds: feeds.size, resuming: feeds.resuming, slowConsumers }),
    async close() {
      closing = true;
      for (const conn of [...connections]) conn.end(CloseCode.goingAway, "going away");
      connections.clear();
      feeds.close();
    },
  };
}

function withRef(frame: ServerFrame, ref: Ref | undefined): ServerFrame {
  if (ref === undefined) return frame;
  const { op, ...rest } = frame;
  return { op, ref, ...rest };
}

function target(frame: ServerFrame, app: string, chat: number | undefined): ServerFrame {
  frame.app = app;
  if (chat !== undefined) frame.chat = chat;
  return frame;
}
