// How search text becomes search words, for every SearchIndex adapter: the
// tokenizer of Elasticsearch's `standard` analyzer (Lucene's StandardTokenizer,
// then LowerCaseFilter) and the policy that turns a user's query into terms.
// Pure: no I/O.
//
// The tokenizer is a port of Lucene's own grammar (StandardTokenizerImpl.jflex:
// UAX#29 word rules plus its emoji, South-East-Asian, Han and Hiragana rules),
// run the way the generated scanner runs it:
//   - at each position the LONGEST match of any rule is a token;
//   - where no rule matches, one code point is skipped (punctuation, spaces);
//   - the scanner sees at most 255 UTF-16 units from the token's start (its
//     buffer is max_token_length), so a longer word is cut there, never inside a
//     surrogate pair, and a run that only becomes a word past 255 units is
//     skipped a code point at a time.
// Tokens are then lowercased code point by code point, like Java's
// Character.toLowerCase. No accent folding: "café" stays "café".
//
// Why a port and not Intl.Segmenter or a hand-written approximation: both were
// measured against a real Elasticsearch's `_analyze` on 1,000 random
// mixed-script strings and neither matched it (ICU applies newer rules and its
// own dictionaries; Lucene keeps quirks such as 'ארה"ב’x' splitting at ’ and
// "30_ラーメン" staying one word). test/integration/search-elasticsearch.test.ts
// keeps that comparison.
//
// Character classes come from the JavaScript engine's Unicode tables (Node 20:
// Unicode 17), corrected where Elasticsearch's differ: its scanner knows the
// characters of Unicode 12.1 and the emoji data of Unicode 11. Characters
// assigned since may be split differently (see UNKNOWN_TO_LUCENE).

/** The text of a query is cut to this many code points first (the HTTP layer
 * already rejects more than limits.searchQueryMaxChars; this bounds every caller). */
export const MAX_QUERY_CHARS = 1024;
/** At most this many distinct words of a query take part: a pasted paragraph
 * cannot make a query of hundreds of clauses. */
export const MAX_QUERY_WORDS = 16;
/** Each query word is cut to this many code points: still a precise prefix, and
 * far from the 255-unit token limit. */
export const MAX_WORD_CHARS = 64;
/** The `standard` analyzer's max_token_length, in UTF-16 units. */
export const MAX_TOKEN_LENGTH = 255;

/** The search terms of a query: its tokens, without duplicates, at most
 * MAX_QUERY_WORDS of them, each cut to MAX_WORD_CHARS. Lowercase, like the
 * tokens of an indexed text; each term is itself one token of the analyzer. */
export function queryTerms(query: string): string[] {
  const terms: string[] = [];
  for (const token of tokenize(truncateCodePoints(query, MAX_QUERY_CHARS))) {
    const term = leadingWord(token);
    if (term === null || terms.includes(term)) continue;
    terms.push(term);
    if (terms.length === MAX_QUERY_WORDS) break;
  }
  return terms;
}

/**
 * A token cut to MAX_WORD_CHARS, then cut back to the word the analyzer finds at
 * its start: "a.a.…a." loses its final dot and 64 underscores (the start of
 * "____…a") are no word at all (null). Elasticsearch would analyze the cut text
 * that way anyway; cutting it here keeps the embedded index's prefix match the same.
 */
function leadingWord(token: string): string | null {
  const cut = truncateCodePoints(token, MAX_WORD_CHARS);
  if (cut === token) return token;
  const first = tokenize(cut)[0];
  return first !== undefined && cut.startsWith(first) ? first : null;
}

/** The first `max` code points of `text`. */
export function truncateCodePoints(text: string, max: number): string {
  if (text.length <= max) return text; // UTF-16 length ≥ code points
  let end = 0;
  let count = 0;
  for (const ch of text) {
    if (count === max) break;
    end += ch.length;
    count += 1;
  }
  return text.slice(0, end);
}

/** Splits text into lowercase search tokens, exactly as Elasticsearch's `standard` analyzer does. */
export function tokenize(text: string): string[] {
  const chars = Array.from(text);
  const classes = chars.map((ch) => classOf(ch.codePointAt(0) ?? 0));
  const units = new Array<number>(chars.length + 1); // UTF-16 offset of each code point
  units[0] = 0;
  for (let i = 0; i < chars.length; i++) units[i + 1] = units[i]! + chars[i]!.length;

  const tokens: string[] = [];
  let windowEnd = 0;
  const glueEnd = [0, 0]; // where the current run of ExtendNumLet / ZWJ lead-in ends
  for (let start = 0; start < chars.length; ) {
    if (windowEnd < start) windowEnd = start;
    while (windowEnd < chars.length && units[windowEnd + 1]! - units[start]! <= MAX_TOKEN_LENGTH) windowEnd++;
    if (!canStartToken(classes, start, windowEnd, glueEnd)) {
      start += 1;
      continue;
    }
    const length = longestMatch(classes, start, windowEnd);
    if (length === 0) {
      start += 1;
      continue;
    }
    tokens.push(lowercase(chars, start, start + length));
    start += length;
  }
  return tokens;
}

/**
 * False where a run of ExtendNumLet ("___") or of ZWJ cannot lead to a word or
 * an emoji within the window. Such runs keep the scanner alive without ever
 * matching; without this check each of their characters would scan the whole
 * window again (a body of 64 KiB of underscores: seconds instead of milliseconds).
 */
function canStartToken(classes: number[], start: number, windowEnd: number, glueEnd: number[]): boolean {
  const c = classes[start]!;
  const lead = c & EXTEND_NUM_LET ? 0 : c & ZWJ ? 1 : -1;
  if (lead === -1) return true;
  const glue = lead === 0 ? EXTEND_NUM_LET | EXTEND : ZWJ;
  const after = lead === 0 ? AHLETTER | NUMERIC | KATAKANA : EMOJI_CHAR | MODIFIER_BASE | MODIFIER;
  if (glueEnd[lead]! <= start) {
    let end = start;
    while (end < classes.length && classes[end]! & glue) end++;
    glueEnd[lead] = end;
  }
  const end = glueEnd[lead]!;
  return end < windowEnd && (classes[end]! & after) !== 0;
}

/** Java's Character.toLowerCase, code point by code point: no context (no final
 * sigma), and İ becomes a plain i. */
function lowercase(chars: string[], from: number, to: number): string {
  // Joined, not appended: `+=` per character leaves a rope of one node per
  // character, which an index that keeps tokens holds at ~30x their size.
  const out: string[] = [];
  for (let i = from; i < to; i++) {
    const ch = chars[i]!;
    if (ch === "\u0130") {
      out.push("i");
      continue;
    }
    const lower = ch.toLowerCase();
    out.push([...lower].length === 1 ? lower : ch);
  }
  return out.join("");
}

// --- character classes (Word_Break values as the grammar groups them) ---------

const AHLETTER = 1 << 0; // ALetter or Hebrew_Letter
const HEBREW_LETTER = 1 << 1;
const NUMERIC = 1 << 2;
const KATAKANA = 1 << 3;
const EXTEND_NUM_LET = 1 << 4;
const MID_LETTER = 1 << 5; // MidLetter, MidNumLet or Single_Quote (the grammar's MidLetterEx)
const MID_NUM = 1 << 6; // MidNum, MidNumLet or Single_Quote (MidNumericEx)
const SINGLE_QUOTE = 1 << 7;
const DOUBLE_QUOTE = 1 << 8;
const EXTEND = 1 << 9; // Extend, Format or ZWJ: belongs to the character before it
const ZWJ = 1 << 10;
const PRESENTATION = 1 << 11; // U+FE0E, U+FE0F
const EMOJI_PRESENTATION = 1 << 12; // U+FE0F
const EMOJI_CHAR = 1 << 13;
const MODIFIER_BASE = 1 << 14;
const MODIFIER = 1 << 15;
const KEYCAP_BASE = 1 << 16;
const KEYCAP = 1 << 17;
const TAG_SPEC = 1 << 18;
const TAG_TERM = 1 << 19;
const REGIONAL = 1 << 20;
const SOUTH_EAST_ASIAN = 1 << 21; // Line_Break=Complex_Context
const HAN = 1 << 22;
const HIRAGANA = 1 << 23;

// ALetter: Alphabetic plus these, minus ideographs, kana, South-East-Asian scripts and marks.
const ALPHABETIC = /[\p{Alphabetic}\u02C2-\u02C5\u02D2-\u02D7\u02DE\u02DF\u02ED\u02EF-\u02FF\u055B\u055C\u055E\u05F3\uA720\uA721\uA789\uA78A\uAB5B]/u;
const NOT_ALETTER = /[\p{Ideographic}\p{Script=Hiragana}]/u;
const HEBREW = /(?=\p{Script=Hebrew})\p{Lo}/u;
const DIGIT = /[\p{Nd}\u066B]/u;
const KATAKANA_CHARS = /[\p{Script=Katakana}\u3031-\u3035\u309B\u309C\u30A0\u30FC\uFF70]/u;
const EXTEND_NUM_LET_CHARS = /[\p{Pc}\u202F]/u;
const MID_LETTER_CHARS = /[:\u00B7\u0387\u05F4\u2027\uFE13\uFE55\uFF1A]/u;
const MID_NUM_CHARS = /[,;\u037E\u0589\u060C\u060D\u066C\u07F8\u2044\uFE10\uFE14\uFE50\uFE54\uFF0C\uFF1B]/u;
const MID_NUM_LET_CHARS = /[.\u2018\u2019\u2024\uFE52\uFF07\uFF0E]/u;
// Extend (marks, ZWNJ, emoji modifiers), Format (Cf but ZWSP) and ZWJ.
const EXTEND_CHARS = /(?!\u200B)[\p{Grapheme_Extend}\p{Mc}\p{Emoji_Modifier}\p{Cf}]/u;
// The grammar's EmojiChar: Extended_Pictographic as the Unicode 11 emoji data
// Lucene's grammar is generated with has it (the rest of that data's Emoji set
// is digits, #, *, regional indicators and skin tones, which EmojiChar leaves
// out). Later versions narrowed the property, so the engine's
// \p{Extended_Pictographic} would drop symbols such as ♡ ★ ♪ ⚂ 🬀 that
// Elasticsearch keeps as words.
const PICTOGRAPHIC = new RegExp(
  [
    String.raw`[\u00A9\u00AE\u203C\u2049\u2122\u2139\u2194-\u2199\u21A9\u21AA\u231A\u231B\u2328\u2388\u23CF\u23E9-\u23F3\u23F8-\u23FA\u24C2`,
    String.raw`\u25AA\u25AB\u25B6\u25C0\u25FB-\u25FE\u2600-\u2605\u2607-\u2612\u2614-\u2685\u2690-\u2705\u2708-\u2712\u2714\u2716\u271D`,
    String.raw`\u2721\u2728\u2733\u2734\u2744\u2747\u274C\u274E\u2753-\u2755\u2757\u2763-\u2767\u2795-\u2797\u27A1\u27B0\u27BF\u2934\u2935`,
    String.raw`\u2B05-\u2B07\u2B1B\u2B1C\u2B50\u2B55\u3030\u303D\u3297\u3299\u{1F000}-\u{1F0FF}\u{1F10D}-\u{1F10F}\u{1F12F}\u{1F16C}-\u{1F171}`,
    String.raw`\u{1F17E}\u{1F17F}\u{1F18E}\u{1F191}-\u{1F19A}\u{1F1AD}-\u{1F1E5}\u{1F201}-\u{1F20F}\u{1F21A}\u{1F22F}\u{1F232}-\u{1F23A}\u{1F23C}-\u{1F23F}`,
    String.raw`\u{1F249}-\u{1F3FA}\u{1F400}-\u{1F53D}\u{1F546}-\u{1F64F}\u{1F680}-\u{1F6FF}\u{1F774}-\u{1F77F}\u{1F7D5}-\u{1F7FF}\u{1F80C}-\u{1F80F}`,
    String.raw`\u{1F848}-\u{1F84F}\u{1F85A}-\u{1F85F}\u{1F888}-\u{1F88F}\u{1F8AE}-\u{1F8FF}\u{1F90C}-\u{1F93A}\u{1F93C}-\u{1F945}\u{1F947}-\u{1FFFD}]`,
  ].join(""),
  "u",
);
const MODIFIER_BASE_CHARS = /\p{Emoji_Modifier_Base}/u;
const MODIFIER_CHARS = /\p{Emoji_Modifier}/u;
const REGIONAL_CHARS = /\p{Regional_Indicator}/u;
// Line_Break=Complex_Context: the letters and marks of these scripts, and a few of their symbols.
const SOUTH_EAST_ASIAN_CHARS =
  /(?!\u1A7F)(?=[\p{L}\p{M}])[\p{Script=Thai}\p{Script=Lao}\p{Script=Myanmar}\p{Script=Khmer}\p{Script=Tai_Le}\p{Script=New_Tai_Lue}\p{Script=Tai_Tham}\p{Script=Tai_Viet}\p{Script=Ahom}]|[\u109E\u109F\u19DA\u19DE\u19DF\u1AA0-\u1AAD\uAA77-\uAA79\uAADE\uAADF\u{1173A}\u{1173B}\u{1173F}]/u;
const HAN_CHARS = /\p{Script=Han}/u;
const HIRAGANA_CHARS = /\p{Script=Hiragana}/u;

// Elasticsearch's tables are Unicode 12.1: later characters are nothing to it,
// not even letters. Listed here for the CJK ideographs and kana assigned since,
// the likeliest of them in a chat; later letters and marks of other scripts
// (rare historic scripts, mostly) are not listed and may be split differently.
const UNKNOWN_TO_LUCENE =
  // eslint-disable-next-line no-misleading-character-class -- code point ranges, not characters to combine
  /[\u4DB6-\u4DBF\u9FF0-\u9FFF\u{16FE2}\u{16FE4}\u{16FF0}-\u{16FFF}\u{1AFF0}-\u{1AFFF}\u{1B11F}-\u{1B122}\u{1B132}\u{1B155}\u{2A6D7}-\u{2A6DF}\u{2B735}-\u{2B73F}\u{2CEA2}-\u{2CEAF}\u{2EBF0}-\u{2EE5D}\u{30000}-\u{3FFFF}]/u;

function computeClass(cp: number): number {
  const ch = String.fromCodePoint(cp);
  if (UNKNOWN_TO_LUCENE.test(ch)) return 0;
  let c = 0;
  if (EXTEND_CHARS.test(ch)) c |= EXTEND;
  if (cp === 0x200d) c |= ZWJ;
  if (cp === 0xfe0e || cp === 0xfe0f) c |= PRESENTATION;
  if (cp === 0xfe0f) c |= EMOJI_PRESENTATION;
  if (KATAKANA_CHARS.test(ch) && !(c & EXTEND)) c |= KATAKANA;
  if (SOUTH_EAST_ASIAN_CHARS.test(ch)) c |= SOUTH_EAST_ASIAN;
  if (HEBREW.test(ch)) c |= HEBREW_LETTER | AHLETTER;
  else if (ALPHABETIC.test(ch) && !NOT_ALETTER.test(ch) && !(c & (EXTEND | KATAKANA | SOUTH_EAST_ASIAN))) c |= AHLETTER;
  if (DIGIT.test(ch)) c |= NUMERIC;
  if (EXTEND_NUM_LET_CHARS.test(ch)) c |= EXTEND_NUM_LET;
  if (MID_LETTER_CHARS.test(ch)) c |= MID_LETTER;
  if (MID_NUM_CHARS.test(ch)) c |= MID_NUM;
  if (MID_NUM_LET_CHARS.test(ch)) c |= MID_LETTER | MID_NUM;
  if (cp === 0x27) c |= SINGLE_QUOTE | MID_LETTER | MID_NUM;
  if (cp === 0x22) c |= DOUBLE_QUOTE;
  if (PICTOGRAPHIC.test(ch)) c |= EMOJI_CHAR;
  if (MODIFIER_BASE_CHARS.test(ch)) c |= MODIFIER_BASE;
  if (MODIFIER_CHARS.test(ch)) c |= MODIFIER;
  if ((cp >= 0x30 && cp <= 0x39) || cp === 0x23 || cp === 0x2a) c |= KEYCAP_BASE;
  if (cp === 0x20e3) c |= KEYCAP;
  if (cp >= 0xe0020 && cp <= 0xe007e) c |= TAG_SPEC;
  if (cp === 0xe007f) c |= TAG_TERM;
  if (REGIONAL_CHARS.test(ch)) c |= REGIONAL;
  if (HAN_CHARS.test(ch)) c |= HAN;
  if (HIRAGANA_CHARS.test(ch)) c |= HIRAGANA;
  return c;
}

/** Classes of the Basic Multilingual Plane, computed on first use (-1: not yet). */
let bmpClasses: Int32Array | null = null;

function classOf(cp: number): number {
  if (cp > 0xffff) return computeClass(cp);
  bmpClasses ??= new Int32Array(0x10000).fill(-1);
  let c = bmpClasses[cp]!;
  if (c === -1) bmpClasses[cp] = c = computeClass(cp);
  return c;
}

// --- the grammar, as a Thompson NFA over character classes ----------------------

interface Edge {
  /** The character must have one of these classes… */
  readonly any: number;
  /** …and none of these. */
  readonly none: number;
  readonly to: number;
}

class Builder {
  readonly edges: Edge[][] = [];
  readonly empty: number[][] = [];
  state(): number {
    this.edges.push([]);
    this.empty.push([]);
    return this.edges.length - 1;
  }
}

interface Fragment {
  start: number;
  end: number;
}

/** A pattern builds fresh states each time it is used, so it can appear in several places. */
type Pattern = (b: Builder) => Fragment;

const cls =
  (any: number, none = 0): Pattern =>
  (b) => {
    const start = b.state();
    const end = b.state();
    b.edges[start]!.push({ any, none, to: end });
    return { start, end };
  };

const seq =
  (...parts: Pattern[]): Pattern =>
  (b) => {
    const fragments = parts.map((part) => part(b));
    for (let i = 1; i < fragments.length; i++) b.empty[fragments[i - 1]!.end]!.push(fragments[i]!.start);
    return { start: fragments[0]!.start, end: fragments[fragments.length - 1]!.end };
  };

const alt =
  (...parts: Pattern[]): Pattern =>
  (b) => {
    const start = b.state();
    const end = b.state();
    for (const part of parts) {
      const f = part(b);
      b.empty[start]!.push(f.start);
      b.empty[f.end]!.push(end);
    }
    return { start, end };
  };

const star =
  (part: Pattern): Pattern =>
  (b) => {
    const start = b.state();
    const end = b.state();
    const f = part(b);
    b.empty[start]!.push(f.start, end);
    b.empty[f.end]!.push(f.start, end);
    return { start, end };
  };

const plus = (part: Pattern): Pattern => seq(part, star(part));
const opt = (part: Pattern): Pattern => alt(part, (b) => {
  const s = b.state();
  return { start: s, end: s };
});

// The macros of StandardTokenizerImpl.jflex, by their names there.
/** X (Extend | Format | ZWJ)* */
const ex = (c: number): Pattern => seq(cls(c), star(cls(EXTEND)));
/** X (Extend | Format | ZWJ but the presentation selectors)* */
const exSansPresSel = (c: number): Pattern => seq(cls(c), star(cls(EXTEND, PRESENTATION)));

const emojiCharOrPresSeqOrModSeq: Pattern = alt(
  seq(star(cls(ZWJ)), exSansPresSel(EMOJI_CHAR), opt(cls(EMOJI_PRESENTATION))),
  seq(opt(seq(star(cls(ZWJ)), exSansPresSel(MODIFIER_BASE))), exSansPresSel(MODIFIER)),
);
const emoji: Pattern = alt(
  seq(emojiCharOrPresSeqOrModSeq, alt(star(seq(cls(ZWJ), emojiCharOrPresSeqOrModSeq)), seq(plus(cls(TAG_SPEC)), cls(TAG_TERM)))),
  seq(exSansPresSel(KEYCAP_BASE), opt(cls(EMOJI_PRESENTATION)), exSansPresSel(KEYCAP)),
  seq(ex(REGIONAL), ex(REGIONAL)),
);

// The word rule. The grammar's numeric, Hangul and Katakana rules only match
// subsets of it (they exist to type tokens), so they never yield a longer match.
const extendNumLet = ex(EXTEND_NUM_LET);
const wordPart: Pattern = alt(
  seq(ex(KATAKANA), star(seq(star(extendNumLet), ex(KATAKANA)))),
  plus(
    alt(
      seq(ex(HEBREW_LETTER), alt(ex(SINGLE_QUOTE), seq(ex(DOUBLE_QUOTE), ex(HEBREW_LETTER)))),
      seq(ex(NUMERIC), star(seq(alt(star(extendNumLet), ex(MID_NUM)), ex(NUMERIC)))),
      seq(ex(AHLETTER), star(seq(alt(star(extendNumLet), ex(MID_LETTER)), ex(AHLETTER)))),
    ),
  ),
);
const word: Pattern = seq(star(extendNumLet), wordPart, star(seq(plus(extendNumLet), wordPart)), star(extendNumLet));

const token: Pattern = alt(emoji, word, plus(ex(SOUTH_EAST_ASIAN)), ex(HAN), ex(HIRAGANA));

interface Machine {
  start: number[];
  accept: number;
  /** Per state: its character edges, each leading to the ε-closure of its target. */
  moves: { any: number; none: number; to: number[] }[][];
}

function compile(pattern: Pattern): Machine {
  const b = new Builder();
  const { start, end } = pattern(b);
  const closure = (from: number): number[] => {
    const seen = new Set<number>([from]);
    const stack = [from];
    while (stack.length > 0) {
      for (const next of b.empty[stack.pop()!]!) {
        if (!seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    // Only states with character edges, and the accepting one, matter while running.
    return [...seen].filter((s) => s === end || b.edges[s]!.length > 0);
  };
  const moves = b.edges.map((edges) => edges.map((edge) => ({ any: edge.any, none: edge.none, to: closure(edge.to) })));
  return { start: closure(start), accept: end, moves };
}

const machine = compile(token);
const seen = new Int32Array(machine.moves.length);
let generation = 0;

/** Length in code points of the longest token starting at `start` and ending by `end`; 0 if none. */
function longestMatch(classes: number[], start: number, end: number): number {
  let current = machine.start;
  let best = 0;
  for (let i = start; i < end && current.length > 0; i++) {
    const c = classes[i]!;
    const next: number[] = [];
    if (generation === 0x7fffffff) {
      seen.fill(0);
      generation = 0;
    }
    generation += 1;
    for (const state of current) {
      for (const move of machine.moves[state]!) {
        if ((c & move.any) === 0 || (c & move.none) !== 0) continue;
        for (const target of move.to) {
          if (seen[target] === generation) continue;
          seen[target] = generation;
          next.push(target);
        }
      }
    }
    if (seen[machine.accept] === generation) best = i - start + 1;
    current = next;
  }
  return best;
}
