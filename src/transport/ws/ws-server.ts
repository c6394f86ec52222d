import type { HttpResponse, TemplatedApp, WebSocket } from "uWebSockets.js";
import type { Config } from "../../config.js";
import type { ChatService } from "../../domain/chat-service.js";
import { userOf, type AccessControl } from "../../domain/access-control.js";
import type { PresenceService } from "../../domain/presence-service.js";
import type { ReadMarkerService } from "../../domain/read-marker-service.js";
import { TypingThrottle } from "../../domain/typing-throttle.js";
import type { User } from "../../domain/user.js";
import { CredentialRefused, DomainError } from "../../domain/errors.js";
import { limits } from "../../domain/limits.js";
import type { Logger } from "../../log.js";
import type { Bus } from "../../ports/bus.js";
import { statusLine, statusOfCode } from "../http/status.js";
import type { OriginPolicy } from "../origin-policy.js";
import { ACCESS_SWEEP_MS, sweepAnonymousSubscriptions } from "./access-sweep.js";
import { Connection } from "./connection.js";
import { Feeds, TYPING_INTERVAL_MS } from "./feeds.js";
import { appChannel, channelOf } from "../../domain/live-batch.js";
import type { Chat } from "../../domain/types.js";
import {
  authedFrame,
  chatCreatedFrame,
  CloseCode,
  decodeFrame,
  FrameError,
  negotiate,
  presenceChangeFrame,
  presenceFrame,
  readFrame,
  readStateFrame,
  refOf,
  validateFrame,
  type ClientFrame,
  type Ref,
  type ServerFrame,
  typingFrame,
  type WsErrorCode,
} from "./protocol.js";
import { Subscription, type SubscriptionOptions } from "./subscription.js";

export interface RealtimeDeps {
  service: ChatService;
  access: AccessControl;
  readMarkers: ReadMarkerService;
  presence: PresenceService;
  /** CORS_ORIGINS: upgrades from other browser origins are refused. */
  origins: OriginPolicy;
  bus: Bus;
  limits: Config["ws"];
  log: Logger;
  /** Resume tuning; defaults suit production. */
  resume?: Partial<SubscriptionOptions>;
}

export interface Realtime {
  /** The ChatService's onChatCreated: publishes the chat_created frame on the application's channel. */
  onChatCreated(chat: Chat): void;
  /** The ReadMarkerService's onMarked: tells the chat's subscribers on every process. */
  onReadMarker(app: string, chat: number, user: User, number: number): void;
  /** The PresenceService's onJoined and onLeft: tells the chat's subscribers on every process. */
  onPresence(change: "joined" | "left", app: string, chat: number, user: User): void;
  /** The chats this process has subscribers of (which presence sweeps). */
  watchedChats(): Iterable<{ app: string; chat: number }>;
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

/** Mounts `/ws` on the uWS app (PROTOCOL.md). Call after the HTTP routes. */
export function mountRealtime(app: TemplatedApp, deps: RealtimeDeps): Realtime {
  const { service, access, bus, log } = deps;
  const cfg = deps.limits;
  const connections = new Set<Connection>();
  // Backlog budget of one socket, against uWS's hard limit H (which cuts without a close frame):
  // at a sweep a socket holds at most 3/8 H, else it is closed with 4008; until the next sweep the
  // topics add at most H/8 and one more frame (≤ 64 KiB body, ≤ 6× as JSON escapes): below H.
  const resume: SubscriptionOptions = {
    pageSize: limits.pageMax,
    maxBuffered: 10_000,
    replayPauseBytes: Math.max(1024, Math.floor(cfg.maxBackpressureBytes / 8)),
    ...deps.resume,
  };
  const feeds = new Feeds(app, bus, service, log, {
    bytesPerSweep: Math.max(1024, Math.floor(cfg.maxBackpressureBytes / 8)),
    maxPending: resume.maxBuffered,
    pageSize: resume.pageSize,
  });
  const connectionLimits = {
    maxBackpressureBytes: cfg.maxBackpressureBytes,
    softBackpressureBytes: Math.floor((cfg.maxBackpressureBytes * 3) / 8),
    sendsPerSecond: cfg.sendsPerSecond,
  };
  let closing = false;
  const typingSent = new TypingThrottle(TYPING_INTERVAL_MS);
  let slowConsumers = 0;
  let lostChatEvents = 0;
  let lastLossLog = 0;
  const onSlowConsumer = (conn: Connection, why: string): void => {
    slowConsumers++;
    log.info({ conn: conn.id, why }, "closing a slow consumer (4008)");
  };
  const revoke = (conn: Connection, sub: Subscription): void => {
    conn.subs.delete(channelOf(sub.app, sub.chat));
    sub.end(true);
    // No ref: the server ended it. The client must not resubscribe without a user token.
    const frame = target({ op: "unsubscribed" }, sub.app, sub.chat ?? undefined);
    conn.send({ ...frame, code: "unauthorized", message: "the application now requires a user token" });
  };
  // One sweep at a time: with the store frozen, first reads of an application would otherwise pile up.
  let sweeping: Promise<void> | null = null;
  const accessSweep = setInterval(() => {
    sweeping ??= sweepAnonymousSubscriptions(connections, (app) => access.userTokensRequired(app), revoke)
      .catch((err: unknown) => log.warn({ err }, "access sweep failed; the next one retries"))
      .finally(() => (sweeping = null));
  }, ACCESS_SWEEP_MS);
  accessSweep.unref();

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
      const origin = req.getHeader("origin");
      const host = req.getHeader("host");
      // A browser cannot set headers on a WebSocket: its user token rides in the URL (never logged).
      const accessToken = new URLSearchParams(req.getQuery() ?? "").get("access_token");
      if (closing) {
        res.cork(() => res.writeStatus("503 Service Unavailable").writeHeader("Retry-After", "1").end("shutting down"));
        return;
      }
      if (!deps.origins.allowsUpgrade(origin, host)) return refuseUpgrade(res, "403 Forbidden", "forbidden", "this origin may not open sockets here (CORS_ORIGINS)");
      const chosen = negotiate(offered);
      if (!chosen) return refuseUpgrade(res, "400 Bad Request", "validation_failed", "unsupported WebSocket subprotocol: offer chat.v1.json or chat.v1.msgpack");
      const userData: UserData = { conn: new Connection(chosen.encoding, connectionLimits, onSlowConsumer) };
      if (accessToken === null) return void res.upgrade(userData, key, chosen.protocol, extensions, context);
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      access.identifyByToken(accessToken).then(
        (identity) => {
          if (aborted) return;
          userData.conn.authenticate(identity);
          res.cork(() => res.upgrade(userData, key, chosen.protocol, extensions, context));
        },
        (err: unknown) => {
          if (aborted) return;
          if (err instanceof CredentialRefused) log.info({ reason: err.reason }, "credential refused on upgrade");
          else if (!(err instanceof DomainError)) log.error({ err }, "upgrade failed");
          if (err instanceof DomainError) refuseUpgrade(res, statusLine[statusOfCode[err.code]] ?? "401 Unauthorized", err.code, err.message);
          else refuseUpgrade(res, "503 Service Unavailable", "unavailable", "a backend is unavailable; retry shortly");
        },
      );
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
      case "auth":
        if (!conn.take()) return rateLimited(conn, ref);
        return authenticate(conn, frame.token, ref);
      case "send":
        if (!conn.take()) return rateLimited(conn, ref);
        access
          .actor(frame.app, frame.chat, conn.identity)
          .then((actor) => service.createMessage(frame.app, frame.chat, frame.body, frame.key ?? null, actor.user))
          .then(
            ({ entity }) => conn.send(withRef({ op: "ack", number: entity.number }, ref)),
            (err: unknown) => failed(conn, ref, err, "send"),
          );
        return;
      case "subscribe":
        return subscribe(conn, frame, ref);
      case "presence":
        if (!conn.take()) return rateLimited(conn, ref);
        access
          .actor(frame.app, frame.chat, conn.identity)
          .then(() => deps.presence.members(frame.app, frame.chat))
          .then(
            (members) => conn.send(withRef(presenceFrame(frame.app, frame.chat, members), ref)),
            (err: unknown) => failed(conn, ref, err, "presence"),
          );
        return;
      case "typing":
        return typing(conn, frame, ref);
      case "read":
        if (!conn.take()) return rateLimited(conn, ref);
        access
          .actor(frame.app, frame.chat, conn.identity)
          .then((actor) => deps.readMarkers.mark(frame.app, frame.chat, userOf(actor, "marking a chat read"), frame.number))
          .then(
            (state) => conn.send(withRef(readStateFrame(frame.app, frame.chat, state), ref)),
            (err: unknown) => failed(conn, ref, err, "read"),
          );
        return;
      case "unsubscribe": {
        const channel = channelOf(frame.app, frame.chat ?? null);
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

  /** `auth`: the socket acts as the token's user from now on. A later `auth` renews it, for the same user only. */
  function authenticate(conn: Connection, token: string, ref: Ref | undefined): void {
    access.identifyByToken(token).then(
      (identity) => {
        const current = conn.identity;
        if (current && (current.app !== identity.app || current.user.id !== identity.user.id)) {
          return sendError(conn, ref, "forbidden", "a socket acts as one user: open another socket for another user");
        }
        conn.authenticate(identity);
        conn.send(withRef(authedFrame(identity.user), ref));
      },
      (err: unknown) => failed(conn, ref, err, "auth"),
    );
  }

  /** Passed on to the chat's other subscribers everywhere; never queued or stored. No reply; over the cap it is dropped, not refused. */
  function typing(conn: Connection, frame: Extract<ClientFrame, { op: "typing" }>, ref: Ref | undefined): void {
    access
      .actor(frame.app, frame.chat, conn.identity)
      .then((actor) => {
        const user = userOf(actor, "typing");
        // Capped here too, so a fast typist costs no bus traffic; subscribers' processes cap it again.
        if (!typingSent.pass(`${frame.app}\u0000${frame.chat}\u0000${user.id}`)) return;
        return feeds.publishSignal(frame.app, frame.chat, typingFrame(frame.app, frame.chat, user), user.id);
      })
      .catch((err: unknown) => failed(conn, ref, err, "typing"));
  }

  function subscribe(conn: Connection, frame: Extract<ClientFrame, { op: "subscribe" }>, ref: Ref | undefined): void {
    const chat = frame.chat ?? null;
    const channel = channelOf(frame.app, chat);
    if (conn.subs.has(channel)) return sendError(conn, ref, "already_subscribed", "this socket already subscribes to it; unsubscribe first to resume from another number");
    if (conn.subs.size >= cfg.maxSubscriptions) return sendError(conn, ref, "too_many_subscriptions", `at most ${cfg.maxSubscriptions} subscriptions per socket`);
    if (!conn.take()) return rateLimited(conn, ref);
    const sub = new Subscription(conn, frame.app, chat, service, feeds, resume);
    conn.subs.set(channel, sub);
    access
      .actor(frame.app, chat, conn.identity)
      .then(() => sub.start(frame.since))
      .then(
      (replayed) => {
        if (sub.phase === "ended") return;
        const identity = conn.identity;
        if (chat !== null && identity && identity.app === frame.app) {
          // A member of the chat while this subscription lasts.
          deps.presence.enter(frame.app, chat, identity.user);
          sub.whenEnded(() => deps.presence.exit(frame.app, chat, identity.user));
        }
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

  /** Every op that costs a backend round trip draws on the socket's one budget (typing is capped on its own). */
  function rateLimited(conn: Connection, ref: Ref | undefined): void {
    sendError(conn, ref, "rate_limited", `at most ${cfg.sendsPerSecond} sends, subscribes, reads, presence and auth frames per second per socket`);
  }

  function failed(conn: Connection, ref: Ref | undefined, err: unknown, op: string): void {
    // Refusals are logged with their reason only: never the credential.
    if (err instanceof CredentialRefused) log.info({ op, conn: conn.id, reason: err.reason }, "credential refused");
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
    onChatCreated(chat) {
      // Every process (this one too) fans it out from the Bus.
      feeds.publishChatCreated(chatCreatedFrame(chat), appChannel(chat.app)).catch((err: unknown) => {
        // The chat itself is durable; application subscribers list chats after reconnecting. One line per 10 s, not per event.
        lostChatEvents++;
        const now = Date.now();
        if (now - lastLossLog < 10_000) return;
        lastLossLog = now;
        log.warn({ err, lost: lostChatEvents }, "chat_created events not published on the bus");
      });
    },
    onPresence(change, app, chat, user) {
      feeds.publishSignal(app, chat, presenceChangeFrame(change, app, chat, user)).catch((err: unknown) => log.warn({ err }, "presence event not published on the bus"));
    },
    watchedChats: () => feeds.chats(),
    onReadMarker(app, chat, user, number) {
      feeds.publishSignal(app, chat, readFrame(app, chat, user, number)).catch((err: unknown) => log.warn({ err }, "read event not published on the bus"));
    },
    stats: () => ({ connections: connections.size, feeds: feeds.size, resuming: feeds.resuming, slowConsumers }),
    async close() {
      closing = true;
      clearInterval(accessSweep);
      for (const conn of [...connections]) conn.end(CloseCode.goingAway, "going away");
      connections.clear();
      feeds.close();
    },
  };
}

function refuseUpgrade(res: HttpResponse, status: string, code: string, message: string): void {
  res.cork(() => res.writeStatus(status).writeHeader("Content-Type", "application/json").end(JSON.stringify({ error: { code, message } })));
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
