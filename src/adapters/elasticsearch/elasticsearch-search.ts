// SearchIndex on Elasticsearch (SPEC §5): an alias over versioned indices,
// documents routed by chat, prefix matching on every word of the query.

import { createHash } from "node:crypto";
import { Client, type ClientOptions, type estypes } from "@elastic/elasticsearch";
import { DomainError, UnavailableError } from "../../domain/errors.js";
import { limits } from "../../domain/limits.js";
import type { Message, SearchHit } from "../../domain/types.js";
import type { SearchIndex } from "../../ports/search.js";
import { BODY_PREFIX_MAX_CHARS, messageIndexDefinition, type IndexShape, type MessageDocument } from "./mapping.js";
import {
  bulkFailures,
  bulkOperations,
  buildingAlias,
  chatRouting,
  errorType,
  throwOnFailures,
  translateError,
  versionedIndex,
} from "./shared.js";

/** The query text is cut to this many code points before analysis (the HTTP layer
 * already rejects more than `limits.searchQueryMaxChars`; this bounds every other
 * caller). */
export const MAX_QUERY_CHARS = 1024;
/** At most this many words take part: each is one clause, so a pasted paragraph
 * cannot make a query with hundreds of clauses. */
export const MAX_QUERY_TOKENS = 16;
/** Each word is cut to this many code points: still a precise prefix, and it keeps
 * a 255-char token (the standard tokenizer's maximum) out of the query. */
export const MAX_TOKEN_CHARS = 64;

export interface ElasticsearchSearchOptions {
  /** Elasticsearch URL, e.g. http://127.0.0.1:9200. Ignored when `client` is given. */
  node: string;
  /** Alias every read and write goes through; concrete indices are `<alias>-v<N>`. */
  alias: string;
  /** Passed to the client (timeouts, retries, auth, TLS). */
  clientOptions?: Omit<ClientOptions, "node" | "nodes">;
  /** Share an existing client instead (then `close()` leaves it open). */
  client?: Client;
  /** Shards/replicas of the first index `ensure()` creates. */
  index?: IndexShape;
}

type Cursor = { score: number; number: number };

export class ElasticsearchSearchIndex implements SearchIndex {
  readonly client: Client;
  readonly alias: string;
  private readonly ownsClient: boolean;
  private readonly shape: IndexShape;

  constructor(options: ElasticsearchSearchOptions) {
    this.alias = options.alias;
    this.shape = options.index ?? {};
    this.ownsClient = options.client === undefined;
    this.client =
      options.client ??
      new Client({
        requestTimeout: 10_000,
        maxRetries: 1,
        ...options.clientOptions,
        node: options.node,
      });
  }

  async ensure(): Promise<void> {
    try {
      if (await this.client.indices.existsAlias({ name: this.alias })) return;
      const first = versionedIndex(this.alias, 1);
      const { settings, mappings } = messageIndexDefinition(this.shape);
      try {
        // Index and alias in one cluster-state update: nobody ever sees the index
        // without its alias.
        await this.client.indices.create({ index: first, settings, mappings, aliases: { [this.alias]: {} } });
      } catch (err) {
        // Several processes starting at once: one create wins, the others land here.
        if (errorType(err) !== "resource_already_exists_exception") throw err;
        if (!(await this.client.indices.existsAlias({ name: this.alias }))) {
          throw new Error(`index ${first} exists but alias ${this.alias} is missing: point the alias at the right index, or delete ${first}`);
        }
      }
    } catch (err) {
      throw translateError(err, "ensure");
    }
  }

  /**
   * Bulk-indexes through the alias, and also through `<alias>-building` while a
   * reindex is loading a new index (see reindex.ts for why this makes the rebuild
   * lose no write). Checking for that alias costs one HEAD per batch; it is not
   * cached, because a stale "no rebuild running" answer is exactly the race that
   * would drop a write from the new index.
   */
  async index(messages: Message[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      const building = buildingAlias(this.alias);
      const targets = (await this.client.indices.existsAlias({ name: building })) ? [this.alias, building] : [this.alias];
      const response = await this.client.bulk({ operations: bulkOperations(messages, targets), refresh: false });
      // A write to the building alias that finds it gone is fine: the alias
      // resolves once per bulk, so the reindex swapped (and this bulk's write to
      // the main alias reached the new index) or gave up (and its index is gone).
      const failures = bulkFailures(response, targets, (item, target) => target === building && item.status === 404);
      throwOnFailures(failures, messages.length);
    } catch (err) {
      throw translateError(err, "index");
    }
  }

  async search(app: string, chat: number, query: string, limit: number, after: string | null): Promise<{ hits: SearchHit[]; next: string | null }> {
    if (!Number.isInteger(limit) || limit < 1 || limit > limits.pageMax) {
      throw new DomainError("validation_failed", "invalid limit", [{ field: "limit", message: `must be an integer from 1 to ${limits.pageMax}` }]);
    }
    const text = truncateCodePoints(query, MAX_QUERY_CHARS);
    const fingerprint = queryFingerprint(app, chat, text);
    const cursor = after === null ? null : decodeCursor(after, fingerprint);
    try {
      const tokens = await this.analyze(text);
      if (tokens.length === 0) return { hits: [], next: null };
      const response = await this.client.search<MessageDocument>({
        index: this.alias,
        routing: chatRouting(app, chat),
        size: limit + 1,
        track_total_hits: false,
        allow_partial_search_results: false,
        _source: ["number", "body", "created_at"],
        query: buildQuery(app, chat, tokens),
        sort: [{ _score: { order: "desc" } }, { number: { order: "desc" } }],
        ...(cursor === null ? {} : { search_after: [cursor.score, cursor.number] }),
      });
      const raw = response.hits.hits;
      const hits: SearchHit[] = [];
      for (const hit of raw.slice(0, limit)) {
        const doc = hit._source;
        if (doc === undefined) continue;
        hits.push({ number: doc.number, body: doc.body, createdAt: doc.created_at });
      }
      const last = raw[limit - 1];
      const next = raw.length > limit && last !== undefined ? encodeCursor(last, fingerprint) : null;
      return { hits, next };
    } catch (err) {
      throw translateError(err, "search");
    }
  }

  async ping(): Promise<void> {
    let exists: boolean;
    try {
      exists = await this.client.indices.existsAlias({ name: this.alias });
    } catch (err) {
      throw translateError(err, "ping");
    }
    if (!exists) throw new UnavailableError(`search alias ${this.alias} is missing`);
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }

  /**
   * Words of the query exactly as the body was indexed (same field, same
   * analyzer: lowercased, split per UAX#29, one token per CJK ideograph, emoji
   * kept), so each can be matched as a prefix of an indexed word. Asking
   * Elasticsearch costs one round trip but cannot disagree with the index the
   * way a JavaScript re-implementation of its tokenizer would.
   */
  private async analyze(text: string): Promise<string[]> {
    if (text.trim() === "") return [];
    const { tokens = [] } = await this.client.indices.analyze({ index: this.alias, field: "body", text });
    return tokens.slice(0, MAX_QUERY_TOKENS).map((t) => truncateCodePoints(t.token, MAX_TOKEN_CHARS));
  }
}

/**
 * Every word must match the start of a word of the body (`must`, one `prefix`
 * per distinct word: a term lookup in `body._index_prefix` for words up to
 * max_chars, a term-dictionary walk beyond). `match_bool_prefix` would not do:
 * it makes only the last word a prefix and needs the others whole.
 *
 * Ranking (`should`, which only adds score): whole words (BM25 `match`; `or`, so
 * every whole word counts, not only all-or-nothing), words in the typed order as
 * prefixes (`span_near` over the prefix field), and the exact phrase.
 * None of this parses user text as query syntax: tokens are only ever values.
 */
export function buildQuery(app: string, chat: number, tokens: readonly string[]): estypes.QueryDslQueryContainer {
  const distinct = [...new Set(tokens)];
  const phrase = tokens.join(" ");
  const should: estypes.QueryDslQueryContainer[] = [{ match: { body: { query: phrase, boost: 1 } } }];
  if (tokens.length > 1) {
    should.push({ match_phrase: { body: { query: phrase, boost: 2 } } });
    // Only when every word is within the prefix field's range: then each clause
    // is a single term, never an expansion that could hit the clause limit.
    // (Java counts UTF-16 units, as `.length` does.)
    if (tokens.every((t) => t.length <= BODY_PREFIX_MAX_CHARS)) {
      should.push({
        span_near: {
          clauses: tokens.map((t) => ({ span_multi: { match: { prefix: { body: { value: t } } } } })),
          slop: 0,
          in_order: true,
          boost: 1,
        },
      });
    }
  }
  return {
    bool: {
      filter: [{ term: { app } }, { term: { chat } }],
      must: distinct.map((t) => ({ prefix: { body: { value: t } } })),
      should,
    },
  };
}

export function truncateCodePoints(text: string, max: number): string {
  if (text.length <= max) return text; // UTF-16 length ≥ code points
  let end = 0;
  let count = 0;
  for (const ch of text) {
    if (count === max) break;
    end += ch.length;
    count++;
  }
  return text.slice(0, end);
}

// --- cursor: base64url(JSON [score, number, fingerprint])
//
// The search_after values of the last hit. The fingerprint ties it to the
// query it came from, so a cursor replayed with another q/chat is a 400 rather
// than a silently odd page. Scores are stable while the chat's documents do not
// change; an edit between two pages can shift them (no point-in-time is held).

const MAX_CURSOR_CHARS = 256;

function queryFingerprint(app: string, chat: number, text: string): string {
  return createHash("sha256").update(`${app}\u0000${chat}\u0000${text}`).digest("base64url").slice(0, 12);
}

function encodeCursor(hit: estypes.SearchHit<MessageDocument>, fingerprint: string): string {
  const [score, number] = hit.sort ?? [];
  return Buffer.from(JSON.stringify([score, number, fingerprint])).toString("base64url");
}

function decodeCursor(raw: string, fingerprint: string): Cursor {
  const invalid = (): DomainError => new DomainError("validation_failed", "invalid cursor", [{ field: "after", message: "is not a cursor from this search" }]);
  if (raw.length === 0 || raw.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(raw)) throw invalid();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(value) || value.length !== 3) throw invalid();
  const [score, number, fp] = value as unknown[];
  if (typeof score !== "number" || !Number.isFinite(score) || score < 0) throw invalid();
  if (typeof number !== "number" || !Number.isInteger(number) || number < 1 || number > limits.numberMax) throw invalid();
  if (fp !== fingerprint) throw invalid();
  return { score, number };
}
