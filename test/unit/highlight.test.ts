import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { highlightPrefixes } from "../../public/highlight.js";

const marked = (body: string, query: string): string => highlightPrefixes(body, query).map((s) => (s.match ? `[${s.text}]` : s.text)).join("");

describe("highlightPrefixes: the words a search matched", () => {
  it("marks query words at the start of body words, case-insensitively, in any order", () => {
    assert.equal(marked("Hello, world!", "wor hel"), "[Hel]lo, [wor]ld!");
    assert.equal(marked("HELLO hello", "hello"), "[HELLO] [hello]");
  });

  it("marks the longest matching query word and nothing inside words", () => {
    assert.equal(marked("helicopter yellow", "he heli"), "[heli]copter yellow");
  });

  it("keeps accents as typed, like the index", () => {
    assert.equal(marked("café cafe", "caf"), "[caf]é [caf]e");
    assert.equal(marked("café cafe", "café"), "[café] cafe");
  });

  it("returns the body unchanged when nothing matches", () => {
    assert.deepEqual(highlightPrefixes("no match here", "zzz"), [{ text: "no match here", match: false }]);
  });
});
