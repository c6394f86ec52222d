// The message index: settings and mapping as one typed constant, shared by
// `ensure()` (first index) and `reindex()` (every later version), so the two can
// never drift. Everything here runs on the server-core-only `integ-test-zip`
// distribution used in CI: the built-in `standard` analyzer and the built-in
// `index_prefixes` sub-field, no analysis-common filters (edge_ngram, icu,
// asciifolding) and no x-pack field types.

import type { estypes } from "@elastic/elasticsearch";

/**
 * Prefix lengths indexed into the hidden `body._index_prefix` sub-field: every
 * token of length L also indexes its first 1..min(L, 10) characters, at the
 * token's own position. A query word of ≤ 10 characters is then ONE term lookup
 * (no walk of the term dictionary, no expansion limit), and the in-order prefix
 * clause (`intervals`) can use positions.
 *
 * `min_chars: 1`: a one-letter word ("h…") is a prefix query too, and the
 * standard tokenizer emits every CJK ideograph as a one-character token.
 *
 * `max_chars: 10` (the limit is 19): measured on 20,000 English messages (~15
 * words each), the store grows from 2.90 MiB without the sub-field to 5.25 MiB
 * with 1–10 (the sub-field is ~4× the inverted index of `body`, but `_source`
 * still dominates), 4.57 MiB with 1–5 and 5.31 MiB with 1–19: few real words
 * are longer than 10, so 19 buys almost nothing on prose, while every long
 * machine token (URL pieces, hashes, pasted base64) would pay up to 19 mostly
 * unique terms instead of 10. A prefix longer than 10 falls back to a `prefix`
 * walk of the term dictionary, which is cheap because few terms share 11+
 * leading characters.
 */
export const BODY_PREFIX_MIN_CHARS = 1;
export const BODY_PREFIX_MAX_CHARS = 10;

export interface IndexShape {
  /** Primary shards. One is right until an index holds tens of GB: routing by chat
   * keeps every query on one shard anyway. */
  shards?: number;
  replicas?: number;
}

export interface MessageIndexDefinition {
  settings: estypes.IndicesIndexSettings;
  mappings: estypes.MappingTypeMapping;
}

/** The document stored per message. `_id` is `${app}:${chat}:${number}` and routing
 * `${app}:${chat}`; neither is ever returned to a client. */
export interface MessageDocument {
  app: string;
  chat: number;
  number: number;
  body: string;
  created_at: number;
  updated_at: number;
  /** Null for an anonymous message. */
  sender: { id: string; name: string | null } | null;
}

const MESSAGE_MAPPINGS = {
  // A typo in a field name must fail the bulk item, not silently add a field.
  dynamic: "strict",
  // Every document of a chat lives on one shard, so a search touches one shard;
  // `required` makes a write without routing an error instead of a misplaced doc.
  _routing: { required: true },
  properties: {
    // Filter-only: no doc values needed (nothing sorts or aggregates on it).
    app: { type: "keyword", doc_values: false },
    // `long`, not `integer`: numbers go up to 4,294,967,295 (MySQL INT UNSIGNED,
    // limits.numberMax), past ES `integer`'s 2^31 - 1. Points cost the same.
    chat: { type: "long", doc_values: false },
    // Tiebreaker of the search sort, so it keeps doc values.
    number: { type: "long" },
    body: {
      type: "text",
      analyzer: "standard",
      index_prefixes: { min_chars: BODY_PREFIX_MIN_CHARS, max_chars: BODY_PREFIX_MAX_CHARS },
    },
    created_at: { type: "date", format: "epoch_millis" },
    // Also the external version of the document; kept as a field for debugging
    // ("which edit does the index hold?").
    updated_at: { type: "long" },
    // Returned with hits, never searched: kept in _source only (a disabled
    // object is core, and `dynamic: strict` does not look inside it).
    sender: { type: "object", enabled: false },
  },
} as const satisfies estypes.MappingTypeMapping;

/** The index definition: settings and mapping, as sent to `indices.create`. */
export const MESSAGE_INDEX = {
  settings: {
    number_of_shards: 1,
    number_of_replicas: 0,
  },
  mappings: MESSAGE_MAPPINGS,
} as const satisfies MessageIndexDefinition;

/**
 * The fields as `putMapping` takes them: an index made by an older version
 * gains the fields added since (additive changes only; `reindex` rebuilds
 * the documents written before them).
 */
export const messageFields = (): estypes.MappingTypeMapping["properties"] => structuredClone(MESSAGE_MAPPINGS.properties) as estypes.MappingTypeMapping["properties"];

/** A fresh copy of `MESSAGE_INDEX` with the shard/replica counts overridden. */
export function messageIndexDefinition(shape: IndexShape = {}): MessageIndexDefinition {
  // structuredClone: no caller can mutate the shared constant through the result.
  const def = structuredClone(MESSAGE_INDEX) as MessageIndexDefinition;
  if (shape.shards !== undefined) def.settings.number_of_shards = shape.shards;
  if (shape.replicas !== undefined) def.settings.number_of_replicas = shape.replicas;
  return def;
}
