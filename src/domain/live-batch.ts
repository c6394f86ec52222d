import { pack, Unpackr } from "msgpackr";
import type { Message } from "./types.js";

/**
 * The frame a chat log publishes for one appended batch or one edit, and the
 * channel it travels on. Redis builds it inside the append script (Lua
 * cmsgpack) and the embedded log with msgpackr; both are this layout:
 * `[kind, [entry, …]]`, kind 1 = created, 2 = updated, 3 = deleted. An
 * entry is `[number, body, createdAt, updatedAt]` for an anonymous message,
 * `[number, body, createdAt, updatedAt, senderId, senderName | false]` for
 * one with a sender (entries written before senders existed stay readable),
 * and `[number, false, createdAt, updatedAt]` for a deleted one (a
 * tombstone). App and chat come from the channel.
 */
export const LIVE_CREATED = 1;
export const LIVE_UPDATED = 2;
export const LIVE_DELETED = 3;

export type LiveKind = "created" | "updated" | "deleted";
const KINDS: Record<number, LiveKind> = { [LIVE_CREATED]: "created", [LIVE_UPDATED]: "updated", [LIVE_DELETED]: "deleted" };
const CODES: Record<LiveKind, number> = { created: LIVE_CREATED, updated: LIVE_UPDATED, deleted: LIVE_DELETED };

export interface LiveBatch {
  kind: LiveKind;
  messages: Message[];
}

/**
 * A chat's events that are not versions of messages (read markers, typing,
 * presence) travel on its channel too, as `[LIVE_SIGNAL, frame, exceptUser]`:
 * a frame ready for subscribers, and the user whose own sockets skip it
 * (false: none). They take no number and never touch the log.
 */
export const LIVE_SIGNAL = 10;

export interface ChatSignal {
  frame: Record<string, unknown> & { op: string };
  exceptUser: string | null;
}

export const encodeChatSignal = (signal: ChatSignal): Buffer => pack([LIVE_SIGNAL, signal.frame, signal.exceptUser ?? false]);

function signalOf(value: unknown): ChatSignal | null {
  if (!Array.isArray(value) || value.length !== 3 || value[0] !== LIVE_SIGNAL) return null;
  const [, frame, exceptUser] = value as unknown[];
  if (typeof frame !== "object" || frame === null || typeof (frame as { op?: unknown }).op !== "string") return null;
  if (!(typeof exceptUser === "string" || exceptUser === false)) return null;
  return { frame: frame as ChatSignal["frame"], exceptUser: exceptUser === false ? null : exceptUser };
}

/** Bus channel of a chat's log, and of an application's chat_created events. */
export const chatChannel = (app: string, chat: number): string => `${app}:${chat}`;
export const appChannel = (app: string): string => app;
/** A chat's channel, or (chat null) the application's own. */
export const channelOf = (app: string, chat: number | null): string => (chat === null ? appChannel(app) : chatChannel(app, chat));

/** Lua's cmsgpack writes millisecond timestamps as 64-bit integers: read them as numbers. Signals' frames are maps: read them as objects. */
const unpackr = new Unpackr({ int64AsType: "number", mapsAsObjects: true });

/** Unpacks a log entry or frame written by either log (Lua cmsgpack or msgpackr). */
export const unpackLog = (bytes: Uint8Array): unknown => unpackr.unpack(bytes);

export type PackedEntry = [number, string | false, number, number] | [number, string, number, number, string, string | false];

export function packedEntry(m: Message): PackedEntry {
  if (m.deleted) return [m.number, false, m.createdAt, m.updatedAt];
  const entry: PackedEntry = [m.number, m.body, m.createdAt, m.updatedAt];
  return m.sender ? [m.number, m.body, m.createdAt, m.updatedAt, m.sender.id, m.sender.name ?? false] : entry;
}

export function encodeLiveBatch(batch: LiveBatch): Buffer {
  return pack([CODES[batch.kind], batch.messages.map(packedEntry)]);
}

/** Decodes a chat channel's batch; null for anything that is not one (a signal, a foreign publisher). */
export function decodeLiveBatch(app: string, chat: number, payload: Uint8Array): LiveBatch | null {
  return batchOf(app, chat, unpackSafely(payload));
}

/** Whatever a chat's channel carries, unpacked once; null for a foreign publisher's bytes. */
export function decodeChatEvent(app: string, chat: number, payload: Uint8Array): LiveBatch | ChatSignal | null {
  const value = unpackSafely(payload);
  return signalOf(value) ?? batchOf(app, chat, value);
}

function unpackSafely(payload: Uint8Array): unknown {
  try {
    return unpackLog(payload);
  } catch {
    return null;
  }
}

function batchOf(app: string, chat: number, value: unknown): LiveBatch | null {
  if (!Array.isArray(value) || value.length !== 2 || !Array.isArray(value[1])) return null;
  const kind = typeof value[0] === "number" ? KINDS[value[0]] : undefined;
  if (!kind) return null;
  const messages: Message[] = [];
  for (const entry of value[1] as unknown[]) {
    const message = entryMessage(app, chat, entry);
    if (!message) return null;
    messages.push(message);
  }
  return { kind, messages };
}

/** An entry of the log (as stored and as published) back to a message. */
export function entryMessage(app: string, chat: number, entry: unknown): Message | null {
  if (!Array.isArray(entry) || (entry.length !== 4 && entry.length !== 6)) return null;
  const [number, body, createdAt, updatedAt, senderId, senderName] = entry as unknown[];
  if (!isInt(number) || !isInt(createdAt) || !isInt(updatedAt)) return null;
  if (body === false && entry.length === 4) return { app, chat, number, body: "", createdAt, updatedAt, deleted: true };
  if (typeof body !== "string") return null;
  const message: Message = { app, chat, number, body, createdAt, updatedAt };
  if (entry.length === 4) return message;
  if (typeof senderId !== "string" || !(typeof senderName === "string" || senderName === false)) return null;
  message.sender = { id: senderId, name: senderName === false ? null : senderName };
  return message;
}

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);
