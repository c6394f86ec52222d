import type { ReadMarker } from "./read-marker.js";
import type { Chat, Message, WriteEvent } from "./types.js";
import type { User } from "./user.js";

/** Checks a decoded queue payload; anything else is malformed and dead-lettered. */
export function parseWriteEvents(value: unknown): WriteEvent[] {
  if (!Array.isArray(value) || value.length === 0) throw new TypeError("a write batch must be a non-empty array");
  return value.map(parseWriteEvent);
}

function parseWriteEvent(value: unknown): WriteEvent {
  if (!isRecord(value)) throw new TypeError("malformed write event");
  if (value.kind === "message_deleted" && isMessage(value.message) && value.message.deleted === true) return { kind: "message_deleted", message: value.message };
  if (value.kind === "read_marker" && isReadMarker(value.marker)) return { kind: "read_marker", marker: value.marker };
  if (typeof value.created !== "boolean") throw new TypeError("malformed write event");
  if (value.kind === "chat" && isChat(value.chat)) return { kind: "chat", created: value.created, chat: value.chat };
  if (value.kind === "message" && isMessage(value.message)) return { kind: "message", created: value.created, message: value.message };
  throw new TypeError("malformed write event");
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isNumber = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;

function isChat(v: unknown): v is Chat {
  return (
    isRecord(v) &&
    typeof v.app === "string" &&
    isNumber(v.number) &&
    (v.name === null || typeof v.name === "string") &&
    isCount(v.messagesCount) &&
    isCount(v.createdAt) &&
    isCount(v.updatedAt)
  );
}

function isMessage(v: unknown): v is Message {
  return (
    isRecord(v) &&
    typeof v.app === "string" &&
    isNumber(v.chat) &&
    isNumber(v.number) &&
    typeof v.body === "string" &&
    isCount(v.createdAt) &&
    isCount(v.updatedAt) &&
    (v.sender === undefined || isUser(v.sender)) &&
    (v.deleted === undefined || v.deleted === true)
  );
}

function isReadMarker(v: unknown): v is ReadMarker {
  return isRecord(v) && typeof v.app === "string" && isNumber(v.chat) && typeof v.user === "string" && isCount(v.number) && isCount(v.updatedAt);
}

function isUser(v: unknown): v is User {
  return isRecord(v) && typeof v.id === "string" && (v.name === null || typeof v.name === "string");
}
