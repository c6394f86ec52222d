// Turns a user's search text into an Elasticsearch query without ever treating
// it as query syntax: the text is cut into words here, and each word is sent as
// a plain value that Elasticsearch analyzes with the field's own analyzer.
//
// Why split here at all: "every word of the query matches the start of a word
// of the body" needs one prefix clause per word, and no single Elasticsearch
// query gives that (`match_bool_prefix` makes only the LAST term a prefix; the
// others must be whole words). Asking `_analyze` first was tried and rejected:
// its thread pool is 1 thread with a queue of 16 per node, so a burst of
// concurrent searches got 429s.
//
// The split follows the rules of the `standard` tokenizer (Unicode UAX#29 word
// boundaries, as Lucene implements them), closely enough that each piece is one
// token. It errs on the side of NOT splitting where unsure; the piece then goes
// to `match_bool_prefix`, which analyzes it server-side, so a piece that turns out
// to hold two tokens still matches (its first token as a whole word, its last as
// a prefix) rather than wrongly failing. Lowercasing is left to Elasticsearch.

import type { estypes } from "@elastic/elasticsearch";
import { BODY_PREFIX_MAX_CHARS } from "./mapping.js";

/** The text is cut to this many code points first (the HTTP layer already rejects
 * more than limits.searchQueryMaxChars; this bounds every other caller). */
export const MAX_QUERY_CHARS = 1024;
/** At most this many words take part: each is one clause, so a pasted paragraph
 * cannot build a query with hundreds of clauses. */
export const MAX_QUERY_WORDS = 16;
/** Each word is cut to this many code points: still a precise prefix, and far from
 * the tokenizer's 255-char token limit. */
export const MAX_WORD_CHARS = 64;

// Character classes, after UAX#29's Word_Break property.
const ATTACH = /(?!\u200B)[\p{M}\p{Cf}\u200D\uFE0E\uFE0F\u20E3\p{Emoji_Modifier}\u{E0020}-\u{E007F}]/u; // Extend/Format/ZWJ: belong to the previous character
const EMOJI = /[\p{Extended_Pictographic}\p{Regional_Indicator}]/u; // the tokenizer emits these as <EMOJI> tokens
const IDEOGRAPH = /[\p{Script=Han}\p{Script=Hiragana}]/u; // one token per character
const EXTEND_NUM_LET = /[_\u202F\u203F\u2040\u2054\uFE33\uFE34\uFE4D-\uFE4F\uFF3F\u309B\u309C\u30A0]/u; // joins like a letter
const MID_LETTER = /[:\u00B7\u0387\u055F\u05F4\u2027\uFE13\uFE55\uFF1A]/u; // joins letter·letter
const MID_NUM = /[,;\u037E\u0589\u060C\u060D\u066C\u07F8\u2044\uFE10\uFE14\uFE50\uFE54\uFF0C\uFF1B]/u; // joins digit,digit
const MID_NUM_LET = /['.\u2018\u2019\u2024\uFE52\uFF07\uFF0E]/u; // joins both
const REGIONAL = /\p{Regional_Indicator}/u;
const LETTER = /[\p{L}\p{Nl}]/u;
const DIGIT = /[\p{Nd}\u066B]/u; // U+066B ARABIC DECIMAL SEPARATOR is Word_Break=Numeric
const HEBREW = /\p{Script=Hebrew}/u;

type Kind = "attach" | "emoji" | "ideograph" | "word" | "midLetter" | "midNum" | "midNumLet" | "doubleQuote" | "separator";

function kindOf(ch: string): Kind {
  if (ATTACH.test(ch)) return "attach";
  if (EMOJI.test(ch)) return "emoji";
  if (IDEOGRAPH.test(ch)) return "ideograph";
  if (LETTER.test(ch) || DIGIT.test(ch) || EXTEND_NUM_LET.test(ch)) return "word";
  if (MID_LETTER.test(ch)) return "midLetter";
  if (MID_NUM.test(ch)) return "midNum";
  if (MID_NUM_LET.test(ch)) return "midNumLet";
  if (ch === '"') return "doubleQuote";
  return "separator"; // spaces, other punctuation and symbols, \p{No} such as ½
}

/** Whether a "mid" character between `prev` and `next` keeps them in one word. */
function joins(kind: Kind, prev: string | undefined, next: string | undefined): boolean {
  if (prev === undefined || next === undefined) return false;
  const letters = LETTER.test(prev) && LETTER.test(next);
  const digits = DIGIT.test(prev) && DIGIT.test(next);
  switch (kind) {
    case "midLetter":
      return letters;
    case "midNum":
      return digits;
    case "midNumLet":
      return letters || digits;
    case "doubleQuote":
      return HEBREW.test(prev) && HEBREW.test(next);
    default:
      return false;
  }
}

/** Something the tokenizer may make a token of; a piece without any is dropped. (A
 * piece kept here that still yields no token is harmless: see buildQuery.) */
const TOKEN_CHAR = /[\p{L}\p{Nl}\p{Nd}\u066B\p{M}\p{Extended_Pictographic}\p{Regional_Indicator}\p{Emoji_Modifier}]/u;

/** The words of a search text, in order, without duplicates, capped in number and length. */
export function queryWords(text: string): string[] {
  const chars = Array.from(truncateCodePoints(text, MAX_QUERY_CHARS));
  const words: string[] = [];
  let current = "";
  let currentKind: "word" | "emoji" | "ideograph" | null = null;
  let lastBase: string | undefined; // last non-attaching character of `current`
  let previous: string | undefined; // the character before this one
  let regionalCount = 0; // regional indicators in the current emoji
  const close = (): void => {
    if (current !== "") words.push(current);
    current = "";
    currentKind = null;
    lastBase = undefined;
  };
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    const kind = kindOf(ch);
    if (kind === "attach") {
      // A mark with nothing before it (a lone Thai vowel sign, a lone skin tone)
      // is a token of its own to the tokenizer; keep it as the start of a word.
      if (current === "") currentKind = "word";
      current += ch;
    } else if (kind === "emoji") {
      // A ZWJ sequence (👨‍👩‍👧) or a flag (a pair of regional indicators) is one emoji.
      const flagHalf = REGIONAL.test(ch) && lastBase !== undefined && REGIONAL.test(lastBase) && regionalCount % 2 === 1;
      const continues = currentKind === "emoji" && (previous === "\u200D" || flagHalf);
      if (!continues) close();
      if (!continues) regionalCount = 0;
      if (REGIONAL.test(ch)) regionalCount++;
      current += ch;
      currentKind = "emoji";
      lastBase = ch;
    } else if (kind === "ideograph") {
      close();
      current = ch;
      currentKind = "ideograph";
      lastBase = ch;
    } else if (kind === "word") {
      if (currentKind !== "word") close();
      current += ch;
      currentKind = "word";
      lastBase = ch;
    } else if (kind !== "separator" && currentKind === "word" && joins(kind, lastBase, nextBase(chars, i + 1))) {
      current += ch;
    } else {
      close();
    }
    previous = ch;
  }
  close();
  const distinct: string[] = [];
  for (const word of words) {
    if (!TOKEN_CHAR.test(word)) continue;
    const capped = truncateCodePoints(word, MAX_WORD_CHARS);
    if (!distinct.includes(capped)) distinct.push(capped);
    if (distinct.length === MAX_QUERY_WORDS) break;
  }
  return distinct;
}

function nextBase(chars: string[], from: number): string | undefined {
  for (let i = from; i < chars.length; i++) {
    if (kindOf(chars[i]!) !== "attach") return chars[i];
  }
  return undefined;
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

/**
 * The search query for one chat. Matching (`must`, per word): the word's
 * analyzed tokens match the start of a word of the body (`match_bool_prefix`;
 * for a one-token word that is one `prefix` lookup in `body._index_prefix`), or,
 * if the word yields no token at all, it is neutral (the `match` with
 * `zero_terms_query: all`; when it does yield tokens that `match` only adds the
 * whole-word score). At least one word must really match, so a text of nothing
 * but untokenizable words finds nothing rather than everything.
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
    const short = (w: string): boolean => Math.max(Buffer.byteLength(w), Buffer.byteLength(w.toLowerCase())) <= BODY_PREFIX_MAX_CHARS;
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
