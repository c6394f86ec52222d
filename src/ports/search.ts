import type { Message, SearchHit } from "../domain/types.js";

export interface SearchIndex {
  /** Creates the alias and first versioned index when missing. */
  ensure(): Promise<void>;
  /** Indexes (or re-indexes edited) messages; throws unless every item succeeded:
   * UnavailableError when a retry can help, any other error when it cannot. */
  index(messages: Message[]): Promise<void>;
  search(app: string, chat: number, query: string, limit: number, after: string | null): Promise<{ hits: SearchHit[]; next: string | null }>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
