// Public entities as the domain sees them. Applications are named by token only;
// chats and messages by their per-parent numbers. No internal id ever appears here,
// which is what keeps ids out of every response by construction.

import type { ReadMarker } from "./read-marker.js";
import type { User } from "./user.js";

export interface Application {
  token: string;
  name: string;
  chatsCount: number;
  createdAt: number; // epoch ms
  updatedAt: number;
}

export interface Chat {
  app: string; // application token
  number: number;
  name: string | null;
  messagesCount: number;
  createdAt: number;
  updatedAt: number;
}

export interface Message {
  app: string;
  chat: number;
  number: number;
  body: string;
  createdAt: number;
  updatedAt: number;
  /** Who sent it; absent for an anonymous write (representations show null). */
  sender?: User;
  /**
   * Set on the version that deleted it (a tombstone: body "", no sender,
   * `updatedAt` the deletion's version). Tombstones keep their number taken
   * and tell resuming subscribers; reads never show them.
   */
  deleted?: true;
}

/**
 * One write as it travels through the queue to the worker. Each carries the
 * entity's full state, so applying it is an idempotent last-writer-wins upsert
 * (by updatedAt): redelivery and reordering across publishers change nothing.
 */
export type WriteEvent =
  | { kind: "chat"; created: boolean; chat: Chat }
  | { kind: "message"; created: boolean; message: Message }
  /** `message` is the tombstone. */
  | { kind: "message_deleted"; message: Message }
  /** Moves a user's marker forward only (applying an older one changes nothing). */
  | { kind: "read_marker"; marker: ReadMarker };

export interface Page<T> {
  data: T[];
  next: string | null;
}

/** Keyset position for message pages: numbers are the natural cursor. */
export type MessageRange =
  | { direction: "after"; number: number }
  | { direction: "before"; number: number }
  | { direction: "newest" };

export interface SearchHit {
  number: number;
  body: string;
  createdAt: number;
  sender?: User;
}
