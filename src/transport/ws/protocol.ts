import { pack, unpack } from "msgpackr";
import type { ErrorCode } from "../../domain/errors.js";
import { idempotencyKeyRule, isIdempotencyKey } from "../../domain/idempotency-key.js";
import { limits } from "../../domain/limits.js";
import type { LiveKind } from "../../domain/live-batch.js";
import type { ReadState } from "../../domain/read-marker.js";
import type { Message } from "../../domain/types.js";
import type { User } from "../../domain/user.js";
import { USER_TOKEN_MAX_CHARS } from "../../domain/user-token.js";
import { senderJson, userJson } from "../representations.js";

// The /ws wire protocol (see PROTOCOL.md next to this file): frame shapes,
// strict hand-written guards for client frames, the two encodings, and the
// close codes. Everything a client can see is built here, field by field,
// from domain types that hold no internal id.

export const PROTOCOL_JSON = "chat.v1.json";
export const PROTOCOL_MSGPACK = "chat.v1.msgpack";
export type Encoding = "json" | "msgpack";

/** Subprotocols in our order of preference when a client offers several it does not rank. */
const supported = new Map<string, Encoding>([
  [PROTOCOL_JSON, "json"],
  [PROTOCOL_MSGPACK, "msgpack"],
]);

/**
 * Picks the first protocol the client offered that we speak (the client's
 * order is its preference). No header: JSON and no protocol echoed.
 * Offered but none supported: null (the upgrade is refused with 400).
 */
export function negotiate(header: string): { encoding: Encoding; protocol: string } | null {
  if (header.trim() === "") return { encoding: "json", protocol: "" };
  for (const offered of header.split(",")) {
    const name = offered.trim();
    const encoding = supported.get(name);
    if (encoding) return { encoding, protocol: name };
  }
  return null;
}

/** Close codes the server uses (the client sees 1006 when no close frame could be sent). */
export const CloseCode = {
  /** Server shutdown or restart: reconnect (elsewhere) and resume with `since`. */
  goingAway: 1001,
  /** A frame larger than WS_MAX_PAYLOAD_BYTES. */
  messageTooBig: 1009,
  /** The client did not read fast enough: its unsent backlog passed the soft limit. Resume with `since`. */
  slowConsumer: 4008,
  /** The socket's user token expired and no `auth` renewed it: reconnect with a fresh token. */
  tokenExpired: 4401,
} as const;

/** The domain's codes (not_found, rate_limited, unavailable, …) plus the socket's own. */
export type WsErrorCode = ErrorCode | "invalid_frame" | "too_many_subscriptions" | "already_subscribed";

export type Ref = string | number;

export type ClientFrame =
  | { op: "auth"; ref?: Ref; token: string }
  | { op: "subscribe"; ref?: Ref; app: string; chat?: number; since?: number }
  | { op: "unsubscribe"; ref?: Ref; app: string; chat?: number }
  | { op: "send"; ref?: Ref; app: string; chat: number; body: string; key?: string }
  | { op: "read"; ref?: Ref; app: string; chat: number; number: number }
  | { op: "presence"; ref?: Ref; app: string; chat: number }
  | { op: "typing"; ref?: Ref; app: string; chat: number }
  | { op: "ping"; ref?: Ref };

export interface FieldProblem {
  field: string;
  message: string;
}

/** A frame we understood enough to answer: its ref (if readable) and what is wrong. */
export class FrameError extends Error {
  constructor(
    readonly code: WsErrorCode,
    message: string,
    readonly ref?: Ref,
    readonly details?: FieldProblem[],
  ) {
    super(message);
  }
}

const REF_MAX_CHARS = 128;
const APP_MAX_CHARS = 64;

const allowedFields: Record<ClientFrame["op"], readonly string[]> = {
  auth: ["op", "ref", "token"],
  subscribe: ["op", "ref", "app", "chat", "since"],
  unsubscribe: ["op", "ref", "app", "chat"],
  send: ["op", "ref", "app", "chat", "body", "key"],
  read: ["op", "ref", "app", "chat", "number"],
  presence: ["op", "ref", "app", "chat"],
  typing: ["op", "ref", "app", "chat"],
  ping: ["op", "ref"],
};

/** Decodes one client frame in the socket's encoding; throws FrameError("invalid_frame") when it cannot. */
export function decodeFrame(data: ArrayBuffer, isBinary: boolean, encoding: Encoding): unknown {
  if (encoding === "json") {
    if (isBinary) throw new FrameError("invalid_frame", "this socket speaks chat.v1.json: send text frames");
    try {
      return JSON.parse(Buffer.from(data).toString("utf8"));
    } catch {
      throw new FrameError("invalid_frame", "the frame is not valid JSON");
    }
  }
  if (!isBinary) throw new FrameError("invalid_frame", "this socket speaks chat.v1.msgpack: send binary frames");
  try {
    // Copy: the ArrayBuffer is only valid during the uWS callback, and decoded strings must not alias it.
    return unpack(Buffer.from(data.slice(0)));
  } catch {
    throw new FrameError("invalid_frame", "the frame is not valid MessagePack");
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Map);
const isNumber = (v: unknown, min: number): v is number => typeof v === "number" && Number.isInteger(v) && v >= min && v <= limits.numberMax;

/** Strict guard: known op, exactly its fields, each of the right type and size. */
export function validateFrame(raw: unknown): ClientFrame {
  if (!isObject(raw)) throw new FrameError("validation_failed", "a frame must be an object with an `op`", undefined, [{ field: "(frame)", message: "must be an object" }]);
  const problems: FieldProblem[] = [];
  let ref: Ref | undefined;
  if (raw.ref !== undefined) {
    const r = raw.ref;
    if ((typeof r === "string" && r.length <= REF_MAX_CHARS) || (typeof r === "number" && Number.isSafeInteger(r))) ref = r;
    else problems.push({ field: "ref", message: `must be a string of at most ${REF_MAX_CHARS} characters or an integer` });
  }
  const op = raw.op;
  // Own keys only: `in` would also find toString, constructor, __proto__ … on the prototype.
  if (typeof op !== "string" || !Object.hasOwn(allowedFields, op)) {
    problems.push({ field: "op", message: `must be one of ${Object.keys(allowedFields).join(", ")}` });
    throw new FrameError("validation_failed", "unknown or missing op", ref, problems);
  }
  const kind = op as ClientFrame["op"];
  for (const key of Object.keys(raw)) if (!allowedFields[kind].includes(key)) problems.push({ field: key, message: `is not a field of ${kind}` });

  if (kind === "auth") {
    if (typeof raw.token !== "string" || raw.token.length < 1 || raw.token.length > USER_TOKEN_MAX_CHARS) {
      problems.push({ field: "token", message: `must be a user token (a string of 1 to ${USER_TOKEN_MAX_CHARS} characters)` });
    }
  } else if (kind !== "ping") {
    if (typeof raw.app !== "string" || raw.app.length < 1 || raw.app.length > APP_MAX_CHARS) {
      problems.push({ field: "app", message: `must be an application token (a string of 1 to ${APP_MAX_CHARS} characters)` });
    }
    const chatRequired = kind !== "subscribe" && kind !== "unsubscribe";
    if (raw.chat !== undefined || chatRequired) {
      if (!isNumber(raw.chat, 1)) problems.push({ field: "chat", message: `must be an integer from 1 to ${limits.numberMax}` });
    }
  }
  if (kind === "subscribe" && raw.since !== undefined) {
    if (!isNumber(raw.since, 0)) problems.push({ field: "since", message: `must be an integer from 0 to ${limits.numberMax}` });
    else if (raw.chat === undefined) problems.push({ field: "since", message: "is only valid with a chat (application subscriptions do not replay)" });
  }
  if (kind === "read" && !isNumber(raw.number, 0)) problems.push({ field: "number", message: `must be an integer from 0 to ${limits.numberMax}` });
  if (kind === "send") {
    const body = raw.body;
    if (typeof body !== "string" || body.length === 0) problems.push({ field: "body", message: "must be a non-empty string" });
    else if (!body.isWellFormed()) problems.push({ field: "body", message: "must be valid Unicode (no lone surrogates)" });
    else if (Buffer.byteLength(body, "utf8") > limits.bodyMaxBytes) problems.push({ field: "body", message: `must be at most ${limits.bodyMaxBytes} bytes of UTF-8` });
    if (raw.key !== undefined && !(typeof raw.key === "string" && isIdempotencyKey(raw.key))) problems.push({ field: "key", message: idempotencyKeyRule });
  }
  if (problems.length > 0) throw new FrameError("validation_failed", "the frame is not valid", ref, problems);
  return raw as ClientFrame;
}

/** The ref of a frame that failed before validation, when one can be read. */
export function refOf(raw: unknown): Ref | undefined {
  if (!isObject(raw)) return undefined;
  const r = raw.ref;
  return (typeof r === "string" && r.length <= REF_MAX_CHARS) || (typeof r === "number" && Number.isSafeInteger(r)) ? r : undefined;
}

// --- server frames

export type ServerFrame = Record<string, unknown> & { op: string };

export function encodeFrame(frame: ServerFrame, encoding: Encoding): string | Buffer {
  return encoding === "json" ? JSON.stringify(frame) : pack(frame);
}

const time = (ms: number): string => new Date(ms).toISOString();

/** The frame of a new chat, for the application's subscribers. */
export const chatCreatedFrame = (chat: { app: string; number: number }): ServerFrame => ({ op: "chat_created", app: chat.app, number: chat.number });

export const messageFrame = (m: Omit<Message, "updatedAt">): ServerFrame => ({
  op: "message",
  app: m.app,
  chat: m.chat,
  number: m.number,
  body: m.body,
  sender: senderJson(m.sender),
  created_at: time(m.createdAt),
});

export const messageUpdatedFrame = (m: Message): ServerFrame => ({
  ...messageFrame(m),
  op: "message_updated",
  updated_at: time(m.updatedAt),
});

export const messageDeletedFrame = (m: { app: string; chat: number; number: number }): ServerFrame => ({ op: "message_deleted", app: m.app, chat: m.chat, number: m.number });

/** The frame of one live change; in the stream of new messages a tombstone (deleted before it was delivered) says so. */
export function liveFrame(kind: LiveKind, m: Message): ServerFrame {
  if (kind === "deleted" || m.deleted) return messageDeletedFrame(m);
  return kind === "created" ? messageFrame(m) : messageUpdatedFrame(m);
}

/** The answer to `auth`: who the socket acts as from now on. */
export const authedFrame = (user: User): ServerFrame => ({ op: "authed", user: userJson(user) });

/** To a chat's subscribers: a user's read marker moved. */
export const readFrame = (app: string, chat: number, user: User, number: number): ServerFrame => ({ op: "read", app, chat, user: userJson(user), number });

/** The answer to `read`: the socket's user's marker and what lies above it. */
export const readStateFrame = (app: string, chat: number, state: ReadState): ServerFrame => ({ op: "read_state", app, chat, number: state.number, unread: state.unread });

/** The answer to `presence`: the chat's members, each once. */
export const presenceFrame = (app: string, chat: number, members: User[]): ServerFrame => ({ op: "presence", app, chat, members: members.map(userJson) });

/** To a chat's subscribers: a user's first socket anywhere subscribed, or their last one went. */
export const presenceChangeFrame = (change: "joined" | "left", app: string, chat: number, user: User): ServerFrame => ({ op: `presence_${change}`, app, chat, user: userJson(user) });

/** To a chat's other subscribers: a user is typing. */
export const typingFrame = (app: string, chat: number, user: User): ServerFrame => ({ op: "typing", app, chat, user: userJson(user) });
