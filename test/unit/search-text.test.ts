// The query policy shared by both SearchIndex adapters (src/domain/search-text.ts):
// how a user's text becomes at most 16 distinct lowercase terms. The tokenizer
// itself is pinned by test/contract/memory-tokenize.test.ts and compared with
// Elasticsearch in test/integration/search-elasticsearch.test.ts.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_QUERY_CHARS, MAX_QUERY_WORDS, MAX_WORD_CHARS, queryTerms, truncateCodePoints } from "../../src/domain/search-text.js";

describe("queryTerms", () => {
  it("is the text's tokens, lowercase, each once, in order", () => {
    assert.deepEqual(queryTerms("Hello, World! hello HELLO"), ["hello", "world"]);
    assert.deepEqual(queryTerms("hello world ".repeat(50)), ["hello", "world"]);
    assert.deepEqual(queryTerms("你好世界 😀😀 can't"), ["你", "好", "世", "界", "😀", "can't"]);
  });

  it("has no terms for text without words, and never throws", () => {
    for (const text of ["", "   ", "*?~{}\\", "___", " . , ", "\ud800", "\u0000", "\u0301\u200d"]) {
      assert.deepEqual(queryTerms(text), [], JSON.stringify(text));
    }
  });

  it("keeps the first 16 distinct words", () => {
    const many = Array.from({ length: 100 }, (_, i) => `w${i}`).join(" ");
    const terms = queryTerms(many);
    assert.equal(terms.length, MAX_QUERY_WORDS);
    assert.deepEqual(terms, Array.from({ length: MAX_QUERY_WORDS }, (_, i) => `w${i}`));
    assert.equal(queryTerms("a a a a a a a a a a a a a a a a a a b").length, 2, "repeats do not use up the cap");
  });

  it("cuts each word at 64 code points", () => {
    assert.deepEqual(queryTerms("x".repeat(1000)), ["x".repeat(MAX_WORD_CHARS)]);
    // Cut at 1,024 first, then split like the analyzer (255 + 255 + 255 + 255 + 4).
    assert.deepEqual(queryTerms("x".repeat(10_000)), ["x".repeat(MAX_WORD_CHARS), "xxxx"]);
    const [astral] = queryTerms("𝒜".repeat(100));
    assert.equal([...(astral ?? "")].length, MAX_WORD_CHARS);
    assert.ok(!/[\uD800-\uDBFF]$/.test(astral ?? ""), "no dangling high surrogate");
  });

  it("keeps of a cut word only the word the analyzer finds at its start", () => {
    assert.deepEqual(queryTerms("a.".repeat(40)), ["a.".repeat(31) + "a"], "no trailing dot");
    assert.deepEqual(queryTerms("_".repeat(100) + "a zebra"), ["zebra"], "64 underscores are no word");
  });

  it("reads only the first 1,024 code points of the text", () => {
    assert.equal(MAX_QUERY_CHARS, 1024);
    assert.deepEqual(queryTerms("a ".repeat(512) + "zebra"), ["a"]);
    assert.deepEqual(queryTerms("a ".repeat(511) + "zebra"), ["a", "ze"]);
    assert.deepEqual(queryTerms("😀 ".repeat(511) + "zebra"), ["😀", "ze"], "counted in code points, not UTF-16 units");
  });
});

describe("truncateCodePoints", () => {
  it("cuts at a number of code points, never inside a surrogate pair", () => {
    assert.equal(truncateCodePoints("abc", 5), "abc");
    assert.equal(truncateCodePoints("abc", 2), "ab");
    assert.equal(truncateCodePoints("a😀b", 2), "a😀");
    assert.equal(truncateCodePoints("😀😀😀", 1), "😀");
    assert.equal(truncateCodePoints("abc", 0), "");
  });
});
