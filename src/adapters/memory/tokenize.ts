// A JavaScript rendition of Elasticsearch's `standard` analyzer (Lucene's
// StandardTokenizer + LowerCaseFilter), so that embedded-mode search matches
// exactly what the Elasticsearch adapter matches.
//
// Lucene's grammar (UAX#29 word boundaries, Unicode emoji sequences) produces:
//   - words and numbers by UAX#29 rules            -> Intl.Segmenter, isWordLike
//   - each Han ideograph on its own                 -> one token per character
//   - each Hiragana character on its own            -> one token per character
//   - runs of Katakana (incl. ー) kept together      -> one token per run
//   - runs of South-East-Asian scripts (Thai, Lao, Khmer, Myanmar, Tai …),
//     which have no spaces, kept together            -> one token per run
//   - emoji sequences (ZWJ, modifiers, flags, keycaps) -> one token each
//   - everything else (punctuation, spaces, symbols) -> dropped
// then lowercases each code point on its own (Java's Character.toLowerCase, so
// no context-dependent final sigma) and cuts tokens at 255 UTF-16 units
// (the analyzer's max_token_length). No accent folding: "café" stays "café".
//
// ICU's own dictionary segmentation of CJK and Thai differs from Lucene's, so
// those scripts are split out before the rest reaches Intl.Segmenter.

const MAX_TOKEN_LENGTH = 255;

const EXTEND = String.raw`[\p{M}\u200C\u200D\p{Cf}]`;
const HAN = String.raw`\p{Script=Han}${EXTEND}*`;
const HIRAGANA = String.raw`\p{Script=Hiragana}${EXTEND}*`;
const KATAKANA = String.raw`(?:[\p{Script=Katakana}\u30FC\u309B\u309C]${EXTEND}*)+`;
const SOUTH_EAST_ASIAN = String.raw`(?:(?=[\p{L}\p{M}])[\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}\p{Script=Tai_Le}\p{Script=New_Tai_Lue}\p{Script=Tai_Tham}\p{Script=Tai_Viet}]${EXTEND}*)+`;
const EMOJI_ELEMENT = String.raw`\p{Extended_Pictographic}\uFE0F?\p{Emoji_Modifier}?`;
const EMOJI = String.raw`\p{Regional_Indicator}{2}|[0-9#*]\uFE0F?\u20E3|${EMOJI_ELEMENT}(?:[\u{E0020}-\u{E007E}]+\u{E007F}|(?:\u200D${EMOJI_ELEMENT})*)`;

/** One match per token Lucene treats specially; group 1 marks single-char scripts. */
const SPECIAL = new RegExp(`(${HAN}|${HIRAGANA})|${KATAKANA}|${SOUTH_EAST_ASIAN}|${EMOJI}`, "gu");

const segmenter = new Intl.Segmenter(undefined, { granularity: "word" });

/** Splits text into lowercase search tokens, the way Elasticsearch's `standard` analyzer does. */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let last = 0;
  for (const match of text.matchAll(SPECIAL)) {
    const start = match.index ?? 0;
    if (start > last) segmentWords(text.slice(last, start), tokens);
    push(match[0], tokens);
    last = start + match[0].length;
  }
  if (last < text.length) segmentWords(text.slice(last), tokens);
  return tokens;
}

function segmentWords(text: string, out: string[]): void {
  for (const part of segmenter.segment(text)) {
    if (part.isWordLike) push(part.segment, out);
  }
}

function push(raw: string, out: string[]): void {
  const token = lowercase(raw);
  if (token.length <= MAX_TOKEN_LENGTH) {
    out.push(token);
    return;
  }
  let start = 0;
  while (start < token.length) {
    let end = Math.min(start + MAX_TOKEN_LENGTH, token.length);
    // Never cut a surrogate pair in half.
    if (end < token.length && isHighSurrogate(token.charCodeAt(end - 1))) end -= 1;
    out.push(token.slice(start, end));
    start = end;
  }
}

/** Lowercases code point by code point (no locale, no context), like Java's Character.toLowerCase. */
function lowercase(text: string): string {
  let out = "";
  for (const ch of text) {
    if (ch === "\u0130") {
      out += "i"; // Java maps İ to a plain i; String.prototype.toLowerCase adds a combining dot.
      continue;
    }
    const lower = ch.toLowerCase();
    out += [...lower].length === 1 ? lower : ch;
  }
  return out;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
