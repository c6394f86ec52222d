// The embedded search tokenizer must agree with Elasticsearch's `standard`
// analyzer (Lucene StandardTokenizer + lowercase): these cases pin the parts of
// that grammar the search contract relies on.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tokenize } from "../../src/adapters/memory/tokenize.js";

describe("tokenize (Elasticsearch standard analyzer semantics)", () => {
  it("splits on UAX#29 word boundaries, drops punctuation and lowercases", () => {
    assert.deepEqual(tokenize("Hello, World!"), ["hello", "world"]);
    assert.deepEqual(tokenize("can't stop, won't stop"), ["can't", "stop", "won't", "stop"]);
    assert.deepEqual(tokenize("pi is 3.14; v2 rocks"), ["pi", "is", "3.14", "v2", "rocks"]);
    assert.deepEqual(tokenize("snake_case and hello.world"), ["snake_case", "and", "hello.world"]);
  });

  it("returns no tokens for empty, blank or punctuation-only text", () => {
    assert.deepEqual(tokenize(""), []);
    assert.deepEqual(tokenize("  \t\n "), []);
    assert.deepEqual(tokenize("?! ... —"), []);
  });

  it("keeps accents and lowercases code point by code point", () => {
    assert.deepEqual(tokenize("Café CRÈME"), ["café", "crème"]);
    assert.deepEqual(tokenize("ΟΔΟΣ"), ["οδοσ"], "no final-sigma context rule, like Java");
    assert.deepEqual(tokenize("İstanbul"), ["istanbul"], "İ lowercases to a plain i, like Java");
  });

  it("keeps Arabic words whole", () => {
    assert.deepEqual(tokenize("مرحبا بالعالم"), ["مرحبا", "بالعالم"]);
  });

  it("makes each Han ideograph and each hiragana its own token", () => {
    assert.deepEqual(tokenize("你好世界"), ["你", "好", "世", "界"]);
    assert.deepEqual(tokenize("abc你好def"), ["abc", "你", "好", "def"]);
    assert.deepEqual(tokenize("ひらがな"), ["ひ", "ら", "が", "な"]);
  });

  it("keeps katakana runs (with the prolonged sound mark) together", () => {
    assert.deepEqual(tokenize("コーヒーを飲む"), ["コーヒー", "を", "飲", "む"]);
    assert.deepEqual(tokenize("カタカナ"), ["カタカナ"]);
  });

  it("keeps runs of South-East-Asian scripts together, as Lucene does", () => {
    assert.deepEqual(tokenize("ภาษาไทยง่าย ok"), ["ภาษาไทยง่าย", "ok"]);
  });

  it("makes each emoji sequence a token", () => {
    assert.deepEqual(tokenize("party 🎉 tonight"), ["party", "🎉", "tonight"]);
    assert.deepEqual(tokenize("🎉🎉"), ["🎉", "🎉"]);
    assert.deepEqual(tokenize("👍🏽 👨‍👩‍👧 🇫🇷 1️⃣"), ["👍🏽", "👨‍👩‍👧", "🇫🇷", "1️⃣"]);
    assert.deepEqual(tokenize("hi🙂there"), ["hi", "🙂", "there"]);
  });

  it("cuts tokens longer than 255 UTF-16 units, never inside a surrogate pair", () => {
    const long = "a".repeat(600);
    assert.deepEqual(tokenize(long).map((t) => t.length), [255, 255, 90]);
    const astral = "a" + "𝒜".repeat(200); // each 𝒜 is two UTF-16 units
    const tokens = tokenize(astral);
    assert.equal(tokens.join(""), astral.toLowerCase());
    for (const token of tokens) {
      assert.ok(token.length <= 255);
      assert.ok(!/[\uD800-\uDBFF]$/.test(token), "no dangling high surrogate");
    }
  });
});
