import type { Chat, Message } from "../domain/types.js";

/**
 * Bounded buffer of recently created or edited chats and messages. It gives
 * read-your-writes before the worker persisted a write, and feeds resume
 * (`since`) for WebSocket subscribers. Entries expire; MySQL is the truth.
 */
export interface RecentCache {
  putChats(chats: Chat[]): Promise<void>;
  putMessages(messages: Message[]): Promise<void>;
  getChat(app: string, number: number): Promise<Chat | null>;
  /** Chats with number > after, ascending. */
  listChats(app: string, after: number, limit: number): Promise<Chat[]>;
  getMessage(app: string, chat: number, number: number): Promise<Message | null>;
  /** Messages with after < number < before, ascending or descending. */
  listMessages(app: string, chat: number, after: number, before: number, limit: number, descending: boolean): Promise<Message[]>;
}
