// SearchIndex on Elasticsearch: an alias over versioned indices,
// documents routed by chat, prefix matching on every word of the query.

import { createHash } from "node:crypto";
import { Client, errors, type ClientOptions, type estypes } from "@elastic/elasticsearch";
import { DomainError, UnavailableError } from "../../domain/errors.js";
import { limits } from "../../domain/limits.js";
import { queryTerms } from "../../domain/search-text.js";
import type { Message, SearchHit } from "../../domain/types.js";
import type { SearchIndex } from "../../ports/search.js";
import { messageFields, messageIndexDefinition, type IndexShape, type MessageDocument } from "./mapping.js";
import { buildQuery } from "./query.js";
import {
  aliasExists,
  BULK_FILTER_PATH,
  bulkFailures,
  bulkOperations,
  buildingAlias,
  chatRouting,
  errorType,
  throwOnFailures,
  translateError,
  versionedIndex,
} from "./shared.js";

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
      if (await aliasExists(this.client, this.alias)) {
        // An index an older version made lacks the fields added since; adding fields is allowed in place.
        await this.client.indices.putMapping({ index: this.alias, properties: messageFields() });
        return;
      }
      const first = versionedIndex(this.alias, 1);
      const { settings, mappings } = messageIndexDefinition(this.shape);
      try {
        // Index and alias in one cluster-state update: nobody ever sees the index
        // without its alias.
        await this.client.indices.create({ index: first, settings, mappings, aliases: { [this.alias]: {} } });
      } catch (err) {
        // Several processes starting at once: one create wins, the others land here.
        if (errorType(err) !== "resource_already_exists_exception") throw err;
        if (!(await aliasExists(this.client, this.alias))) {
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
   * lose no write). Checking for that alias costs one GET per batch; it is not
   * cached, because a stale "no rebuild running" answer is exactly the race that
   * would drop a write from the new index.
   */
  async index(messages: Message[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      const building = buildingAlias(this.alias);
      const targets = (await aliasExists(this.client, building)) ? [this.alias, building] : [this.alias];
      const response = await this.client.bulk({ operations: bulkOperations(messages, targets), refresh: false, filter_path: BULK_FILTER_PATH });
      // A write to the building alias that finds it gone is fine. Elasticsearch
      // resolves every item of a bulk against one cluster state, so the building
      // alias being gone means the reindex had already swapped (and this bulk's
      // write to the main alias reached the new index) or had given up (and its
      // index is gone).
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
    const words = queryTerms(query);
    const fingerprint = queryFingerprint(app, chat, words);
    const cursor = after === null ? null : decodeCursor(after, fingerprint);
    if (words.length === 0) return { hits: [], next: null };
    try {
      const request = (): Promise<estypes.SearchResponse<MessageDocument>> => this.client.search<MessageDocument>({
        index: this.alias,
        routing: chatRouting(app, chat),
        size: limit + 1,
        track_total_hits: false,
        allow_partial_search_results: false,
        _source: ["number", "body", "created_at", "sender"],
        query: buildQuery(app, chat, words),
        sort: [{ _score: { order: "desc" } }, { number: { order: "desc" } }],
        ...(cursor === null ? {} : { search_after: [cursor.score, cursor.number] }),
      });
      // One retry when Elasticsearch answered with a missing index or a shard
      // failure: that is what a search sees if it resolved the alias just before a
      // reindex swapped it and reached the old index just after it was deleted.
      const response = await request().catch((err: unknown) => (isRetriableSearchError(err) ? request() : Promise.reject(err)));
      const raw = response.hits.hits;
      const hits: SearchHit[] = [];
      for (const hit of raw.slice(0, limit)) {
        const doc = hit._source;
        if (doc === undefined) continue;
        hits.push({ number: doc.number, body: doc.body, createdAt: doc.created_at, ...(doc.sender ? { sender: doc.sender } : {}) });
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
      exists = await aliasExists(this.client, this.alias);
    } catch (err) {
      throw translateError(err, "ping");
    }
    if (!exists) throw new UnavailableError(`search alias ${this.alias} is missing`);
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }
}

function isRetriableSearchError(err: unknown): boolean {
  if (!(err instanceof errors.ResponseError)) return false;
  const status = err.statusCode ?? 0;
  return status === 404 || status >= 500;
}

// --- cursor: base64url(JSON [score, number, fingerprint])
//
// The search_after values of the last hit. Score then number is a total order
// within a chat (numbers are unique there, and routing keeps a chat on one
// shard). The fingerprint ties the cursor to the query it came from, so one
// replayed with another q/chat is a 400 rather than a silently odd page. Pages
// are exact while the chat's documents do not change; an edit between two
// pages can shift scores (no point-in-time is held open between requests).

const MAX_CURSOR_CHARS = 256;

function queryFingerprint(app: string, chat: number, words: readonly string[]): string {
  return createHash("sha256").update(JSON.stringify([app, chat, words])).digest("base64url").slice(0, 12);
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
