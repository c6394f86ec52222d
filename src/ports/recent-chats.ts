import type { Chat } from "../domain/types.js";

/**
 * Bounded window of recently created or renamed chats per application. It
 * gives read-your-writes before the worker persisted a chat; entries expire,
 * and MySQL is the truth. (Messages have their chat log: ports/chat-log.ts.)
 */
export interface RecentChats {
  putChats(chats: Chat[]): Promise<void>;
  getChat(app: string, number: number): Promise<Chat | null>;
  /** Chats with number > after, ascending. */
  listChats(app: string, after: number, limit: number): Promise<Chat[]>;
}
