import { DomainError } from "../../domain/errors.js";
import { limits } from "../../domain/limits.js";
import { queryTerms, tokenize } from "../../domain/search-text.js";
import type { Message, SearchHit } from "../../domain/types.js";
import type { SearchIndex } from "../../ports/search.js";
import { BoundedLogs } from "./bounded-logs.js";

export interface MemorySearchIndexOptions {
  /** Same bounds as the store's, so the index never holds more than the store does. */
  maxMessagesPerChat?: number;
  maxMessagesTotal?: number;
}

interface Doc {
  readonly number: number;
  readonly body: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly tokens: string[];
  readonly sender: Message["sender"];
  /** A tombstone (empty body): final, whatever version arrives later. */
  readonly deleted: boolean;
}

/**
 * Embedded-mode SearchIndex with the Elasticsearch adapter's semantics:
 *
 * - Text is analyzed like ES's `standard` analyzer, and the query turned into
 *   terms, by the same code as there (src/domain/search-text.ts).
 * - A message matches when every query token is a prefix of some body token
 *   (the last one too), so "hel wor" finds "Hello, world!". No accent folding.
 * - Score = number of query tokens that equal a body token (whole words)
 *   + 2 when the query's tokens appear as a contiguous phrase (2+ tokens)
 *   + a tie-breaker below 1 that favours shorter bodies (like BM25's length norm).
 *   Hits sort by score desc, then number desc.
 * - `next` is an opaque cursor (base64url of JSON [score, number]).
 * - The query is capped like the Elasticsearch adapter's (16 distinct words of
 *   at most 64 characters), and `limit` must be 1…pageMax.
 * - Re-indexing keeps the version with the highest updatedAt, so an edited
 *   message is found by its new text only, even if a stale copy arrives later.
 *
 * Search is a scan of one chat's messages: fine for the embedded bound.
 */
export class MemorySearchIndex implements SearchIndex {
  private readonly docs: BoundedLogs<Doc>;
  private closed = false;

  constructor(options: MemorySearchIndexOptions = {}) {
    this.docs = new BoundedLogs<Doc>({
      maxPerLog: options.maxMessagesPerChat ?? 10_000,
      maxTotal: options.maxMessagesTotal ?? 1_000_000,
    });
  }

  async ensure(): Promise<void> {}

  async index(messages: Message[]): Promise<void> {
    for (const message of messages) {
      const key = chatKey(message.app, message.chat);
      const doc: Doc = {
        number: message.number,
        body: message.body,
        createdAt: message.createdAt,
        updatedAt: message.updatedAt,
        tokens: tokenize(message.body),
        sender: message.sender,
        deleted: message.deleted === true,
      };
      const shelf = this.docs.shelf(key);
      const existing = shelf?.log.get(message.number);
      if (existing) {
        if (!existing.deleted && (doc.deleted || doc.updatedAt > existing.updatedAt)) shelf!.log.set(doc);
      } else {
        this.docs.insert(key, doc);
      }
    }
  }

  async search(app: string, chat: number, query: string, limit: number, after: string | null): Promise<{ hits: SearchHit[]; next: string | null }> {
    if (!Number.isInteger(limit) || limit < 1 || limit > limits.pageMax) {
      throw new DomainError("validation_failed", "invalid limit", [{ field: "limit", message: `must be an integer from 1 to ${limits.pageMax}` }]);
    }
    const terms = queryTerms(query);
    const position = after === null ? null : decodeCursor(after);
    const log = this.docs.shelf(chatKey(app, chat))?.log;
    if (terms.length === 0 || !log) return { hits: [], next: null };

    const matches: { score: number; doc: Doc }[] = [];
    for (const doc of log.values()) {
      const score = scoreOf(doc.tokens, terms);
      if (score === null) continue;
      if (position && !(score < position[0] || (score === position[0] && doc.number < position[1]))) continue;
      matches.push({ score, doc });
    }
    matches.sort((a, b) => b.score - a.score || b.doc.number - a.doc.number);

    const page = matches.slice(0, limit);
    const last = page[page.length - 1];
    return {
      hits: page.map(({ doc }) => ({ number: doc.number, body: doc.body, createdAt: doc.createdAt, ...(doc.sender ? { sender: doc.sender } : {}) })),
      next: matches.length > limit && last ? encodeCursor(last.score, last.doc.number) : null,
    };
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error("search index is closed");
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Null when some term prefixes no body token; otherwise the relevance score. */
function scoreOf(tokens: string[], terms: string[]): number | null {
  let whole = 0;
  for (const term of terms) {
    let prefix = false;
    let exact = false;
    for (const token of tokens) {
      if (token === term) {
        exact = true;
        break;
      }
      if (!prefix && token.startsWith(term)) prefix = true;
    }
    if (exact) whole += 1;
    else if (!prefix) return null;
  }
  const phrase = terms.length >= 2 && containsPhrase(tokens, terms) ? 2 : 0;
  return whole + phrase + 0.5 / (1 + tokens.length);
}

function containsPhrase(tokens: string[], terms: string[]): boolean {
  outer: for (let i = 0; i + terms.length <= tokens.length; i++) {
    for (let j = 0; j < terms.length; j++) if (tokens[i + j] !== terms[j]) continue outer;
    return true;
  }
  return false;
}

function chatKey(app: string, chat: number): string {
  return `${app}\u0000${chat}`;
}

function encodeCursor(score: number, number: number): string {
  return Buffer.from(JSON.stringify([score, number])).toString("base64url");
}

function decodeCursor(cursor: string): [number, number] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString());
    if (Array.isArray(value) && value.length === 2 && Number.isFinite(value[0]) && Number.isInteger(value[1])) {
      return [value[0] as number, value[1] as number];
    }
  } catch {
    // reported below
  }
  throw new DomainError("validation_failed", "invalid search cursor", [{ field: "after", message: "is not a cursor this search returned" }]);
}
