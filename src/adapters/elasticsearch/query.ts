// Turns a user's search terms into an Elasticsearch query without ever treating
// them as query syntax: each term is sent as a plain value that Elasticsearch
// analyzes with the field's own analyzer.
//
// The terms come from queryTerms (src/domain/search-text.ts), which splits the
// text exactly as the field's `standard` analyzer does and lowercases it: each
// term analyzes back to itself, one token. Why split here at all: "every word of
// the query matches the start of a word of the body" needs one prefix clause per
// word, and no single Elasticsearch query gives that (`match_bool_prefix` makes
// only the LAST term a prefix; the others must be whole words). Asking
// `_analyze` first was tried and rejected: its thread pool is 1 thread with a
// queue of 16 per node, so a burst of concurrent searches got 429s.

import type { estypes } from "@elastic/elasticsearch";
import { BODY_PREFIX_MAX_CHARS } from "./mapping.js";

/**
 * The search query for one chat. Matching (`must`, per word): the word's
 * analyzed token matches the start of a word of the body (`match_bool_prefix`,
 * whose `prefix` lookup `body._index_prefix` serves for short words), or, if
 * the word yields no token at all (queryTerms never makes such a word, but a
 * character newer than the cluster's Unicode tables could), it is neutral (the
 * `match` with `zero_terms_query: all`; when it does yield a token that `match`
 * only adds the whole-word score). At least one word must really match, so
 * words that yield nothing never find everything.
 *
 * Ranking (`should`, adds score only): whole words (BM25, via the `match` above),
 * the exact phrase, and the words as prefixes in the typed order (`intervals`).
 */
export function buildQuery(app: string, chat: number, words: readonly string[]): estypes.QueryDslQueryContainer {
  const must: estypes.QueryDslQueryContainer[] = words.map((word) => ({
    bool: {
      should: [
        { match_bool_prefix: { body: { query: word, operator: "and" } } },
        { match: { body: { query: word, operator: "and", zero_terms_query: "all" } } },
      ],
      minimum_should_match: 1,
    },
  }));
  must.push({
    bool: { should: words.map((word) => ({ match_bool_prefix: { body: { query: word, operator: "and" } } })), minimum_should_match: 1 },
  });

  const should: estypes.QueryDslQueryContainer[] = [];
  if (words.length > 1) {
    const phrase = words.join(" ");
    should.push({ match_phrase: { body: { query: phrase, boost: 2 } } });
    // Only when every word is short enough to be one term of the prefix field
    // (Elasticsearch measures in UTF-8 bytes here): a longer intervals prefix
    // expands over the term dictionary and fails past 128 terms.
    const short = (w: string): boolean => Buffer.byteLength(w) <= BODY_PREFIX_MAX_CHARS;
    if (words.every(short)) {
      should.push({
        intervals: {
          body: {
            all_of: { ordered: true, max_gaps: 0, intervals: words.map((word) => ({ prefix: { prefix: word } })) },
            boost: 1,
          },
        },
      } as estypes.QueryDslQueryContainer);
    }
  }
  return { bool: { filter: [{ term: { app } }, { term: { chat } }], must, should } };
}
