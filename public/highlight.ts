/** A run of text, and whether it is the start of a word that a query word matched. */
export interface Segment {
  text: string;
  match: boolean;
}

/**
 * Marks what the search matched: the server finds a body when every query
 * word begins one of its words (case-insensitive, words cut at Unicode word
 * boundaries), so the same prefixes are marked here. Intl.Segmenter cuts
 * Chinese and Japanese by dictionary words while the index takes each
 * character as a word, so a match inside such a word is found but not marked.
 */
export function highlightPrefixes(body: string, query: string): Segment[] {
  const terms = words(query).map((w) => w.toLocaleLowerCase());
  const out: Segment[] = [];
  const push = (text: string, match: boolean): void => {
    const last = out[out.length - 1];
    if (last && last.match === match) last.text += text;
    else out.push({ text, match });
  };
  for (const { segment, isWordLike } of new Intl.Segmenter(undefined, { granularity: "word" }).segment(body)) {
    const length = isWordLike ? longestPrefix(segment, terms) : 0;
    if (length > 0) push(segment.slice(0, length), true);
    if (length < segment.length) push(segment.slice(length), false);
  }
  return out;
}

function words(text: string): string[] {
  return [...new Intl.Segmenter(undefined, { granularity: "word" }).segment(text)].filter((s) => s.isWordLike).map((s) => s.segment);
}

/** Length of the longest query word that begins `word`, compared case-insensitively; 0 when none does. */
function longestPrefix(word: string, terms: string[]): number {
  let best = 0;
  for (const term of terms) if (term.length > best && word.slice(0, term.length).toLocaleLowerCase() === term) best = term.length;
  return best;
}
