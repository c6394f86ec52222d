import type { Message } from "../domain/types.js";
import type { User } from "../domain/user.js";

/** One message to append: its body, the client's idempotency key if it sent one, and its sender (absent: anonymous). */
export interface Send {
  body: string;
  key: string | null;
  sender?: User;
}

/** What became of one send: a new message, the original one for a repeated
 * key, or a conflict (the key was used for a different body). */
export type SendOutcome =
  | { kind: "created"; message: Message }
  | { kind: "repeat"; message: Message }
  | { kind: "conflict" };

export type Append =
  | { status: "ok"; outcomes: SendOutcome[] }
  | { status: "not_found" }
  /** The chat's counter is not there (lost with the sequencer's state): restore it with `seed`. */
  | { status: "needs_seed" }
  /** The sequencer lost its state and fences until every number handed out before is durable. */
  | { status: "recovering" };

/** A live change of a chat as it travels between processes: one frame per appended batch or edit. */
export type ChatLogEvent = { kind: "created" | "updated" | "deleted"; app: string; chat: number; messages: Message[] };

/**
 * One log per chat (Redis in cluster mode). `append` is one atomic step per
 * batch: it allocates the numbers, remembers idempotency keys, adds the
 * entries to the bounded recent window that serves read-your-writes and
 * resume, and publishes the batch live as one frame. So a message is
 * numbered, readable and published together, or not at all, and every
 * subscriber sees a chat's batches in number order.
 */
export interface ChatLog {
  append(app: string, chat: number, sends: Send[], now: number): Promise<Append>;
  /** Puts an edited version (never replacing a fresher one) and publishes it live, in one step. */
  edit(message: Message): Promise<void>;
  /** Puts a tombstone (never replacing a fresher version) and publishes the deletion live, in one step. */
  delete(tombstone: Message): Promise<void>;
  /** The highest number handed out in the chat (0 when none or unknown). */
  head(app: string, chat: number): Promise<number>;
  /** Sets the chat's counter only where absent (never lowers one). */
  seed(app: string, chat: number, counter: number): Promise<void>;
  getMessage(app: string, chat: number, number: number): Promise<Message | null>;
  /** Entries with after < number < before, ascending or descending, from the recent window (tombstones included). */
  listMessages(app: string, chat: number, after: number, before: number, limit: number, descending: boolean): Promise<Message[]>;
}
