import type { ApplicationAccess } from "../domain/application-access.js";
import type { Application, Chat, Message, MessageRange, WriteEvent } from "../domain/types.js";

export interface AppliedWrites {
  rejected: WriteEvent[];
}

export interface MessageKey {
  app: string;
  chat: number;
  number: number;
}

/** Durable state (MySQL in cluster mode). Applications are written synchronously;
 * chats and messages only through `applyWrites`, which the worker calls. */
export interface Store {
  insertApplication(app: Application): Promise<void>;
  findApplication(token: string): Promise<Application | null>;
  renameApplication(token: string, name: string, updatedAt: number): Promise<Application | null>;
  /** Admin listing, keyset by token. */
  listApplications(afterToken: string | null, limit: number): Promise<Application[]>;

  /** Stores a new application's credentials (written synchronously, like the application). */
  insertAccess(token: string, access: ApplicationAccess): Promise<void>;
  /** Null for an unknown application, or one created before applications had secrets. */
  findAccess(token: string): Promise<ApplicationAccess | null>;
  /** Replaces the secret only while it still is `current`, so of two concurrent rotations one wins; false for the other. */
  rotateSecret(token: string, current: string, next: string, previousUntil: number): Promise<boolean>;
  /** Sets a secret for an application that has none (created before secrets existed); false when it has one. */
  issueMissingSecret(token: string, secret: string): Promise<boolean>;
  setUserTokensRequired(token: string, required: boolean): Promise<void>;

  findChat(app: string, number: number): Promise<Chat | null>;
  listChats(app: string, afterNumber: number, limit: number): Promise<Chat[]>;
  findMessage(app: string, chat: number, number: number): Promise<Message | null>;
  listMessages(app: string, chat: number, range: MessageRange, limit: number): Promise<Message[]>;

  /** Live (not deleted) messages numbered after < number < before. */
  countMessages(app: string, chat: number, after: number, before: number): Promise<number>;
  /** The user's persisted read marker; null before their first. */
  findReadMarker(app: string, chat: number, user: string): Promise<number | null>;

  /** Highest persisted numbers, used to restore counters after Redis lost them. */
  maxChatNumber(app: string): Promise<number | null>;
  maxMessageNumber(app: string, chat: number): Promise<number | null>;

  /** Idempotent: applying the same events again changes nothing. Counts are
   * incremented by the number of rows this call newly inserted. Events that
   * can never apply (their application does not exist) are returned, not
   * dropped, so the caller can dead-letter them. */
  applyWrites(events: WriteEvent[]): Promise<AppliedWrites>;

  /** Recomputes counts for a slice of chats/applications; returns the cursor for
   * the next slice (null when the sweep wrapped) and how many rows it repaired. */
  reconcileCounts(cursor: string | null, batch: number): Promise<{ cursor: string | null; repaired: number }>;

  /** Every message in a stable order, for rebuilding the search index. */
  scanMessages(after: MessageKey | null, limit: number): Promise<Message[]>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
