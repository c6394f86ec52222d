// ElasticsearchSearchIndex and reindex against a real Elasticsearch
// (ELASTICSEARCH_URL, default http://127.0.0.1:9200). Every run works under its
// own `test-<random>` alias prefix and deletes its indices at the end, so runs
// never collide. Visibility is forced with an explicit refresh, or waited for
// by polling against a deadline — never by sleeping.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Client } from "@elastic/elasticsearch";
import { ElasticsearchSearchIndex } from "../../src/adapters/elasticsearch/elasticsearch-search.js";
import { reindex, ReindexInProgressError } from "../../src/adapters/elasticsearch/reindex.js";
import { BulkIndexError } from "../../src/adapters/elasticsearch/shared.js";
import { DomainError, UnavailableError } from "../../src/domain/errors.js";
import { queryTerms, tokenize } from "../../src/domain/search-text.js";
import type { Message } from "../../src/domain/types.js";
import type { MessageKey } from "../../src/ports/store.js";

const url = process.env.ELASTICSEARCH_URL ?? "http://127.0.0.1:9200";
const prefix = `test-${randomBytes(4).toString("hex")}`;
const admin = new Client({ node: url });
const opened: ElasticsearchSearchIndex[] = [];

function searchIndex(name: string): ElasticsearchSearchIndex {
  const index = new ElasticsearchSearchIndex({ node: url, alias: `${prefix}-${name}` });
  opened.push(index);
  return index;
}

const refresh = (s: ElasticsearchSearchIndex) => admin.indices.refresh({ index: s.alias });

let clock = 1_700_000_000_000;
function msg(app: string, chat: number, number: number, body: string, updatedAt = ++clock): Message {
  return { app, chat, number, body, createdAt: updatedAt, updatedAt };
}

async function bodies(s: ElasticsearchSearchIndex, app: string, chat: number, q: string, limit = 50): Promise<string[]> {
  return (await s.search(app, chat, q, limit, null)).hits.map((h) => h.body);
}

async function numbers(s: ElasticsearchSearchIndex, app: string, chat: number, q: string, limit = 50): Promise<number[]> {
  return (await s.search(app, chat, q, limit, null)).hits.map((h) => h.number);
}

/** Polls `probe` until `ok` holds or the deadline passes. */
async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, deadlineMs: number): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** All pages of a search, following `next`. */
async function allPages(s: ElasticsearchSearchIndex, app: string, chat: number, q: string, limit: number): Promise<number[]> {
  const seen: number[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const { hits, next }: { hits: { number: number }[]; next: string | null } = await s.search(app, chat, q, limit, cursor);
    seen.push(...hits.map((h) => h.number));
    if (next === null) return seen;
    assert.equal(hits.length, limit, "a page with a next cursor is full");
    cursor = next;
  }
  throw new Error("paging did not end");
}

/** An in-memory stand-in for Store.scanMessages: key order (app, chat, number). */
class FakeStore {
  private rows: Message[] = [];
  scans = 0;
  onScan: ((call: number) => Promise<void>) | null = null;

  static compare(a: MessageKey, b: MessageKey): number {
    if (a.app !== b.app) return a.app < b.app ? -1 : 1;
    if (a.chat !== b.chat) return a.chat - b.chat;
    return a.number - b.number;
  }

  put(messages: Message[]): void {
    for (const m of messages) {
      const i = this.rows.findIndex((r) => FakeStore.compare(r, m) >= 0);
      if (i === -1) this.rows.push(m);
      else if (FakeStore.compare(this.rows[i]!, m) === 0) this.rows[i] = m;
      else this.rows.splice(i, 0, m);
    }
  }

  load(messages: Message[]): void {
    this.rows = [...messages].sort(FakeStore.compare);
  }

  scan = async (after: MessageKey | null, limit: number): Promise<Message[]> => {
    const call = ++this.scans;
    if (this.onScan) await this.onScan(call);
    let lo = 0;
    if (after !== null) {
      let hi = this.rows.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (FakeStore.compare(this.rows[mid]!, after) <= 0) lo = mid + 1;
        else hi = mid;
      }
    }
    return this.rows.slice(lo, lo + limit).map((m) => ({ ...m }));
  };
}

/** Deterministic PRNG, so the generated corpus is the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  "alpha", "alpine", "alps", "beta", "better", "bet", "gamma", "gamut", "delta", "deli", "echo", "eclipse",
  "foxtrot", "fox", "golf", "gold", "hotel", "hot", "india", "indigo", "juliet", "july", "kilo", "kiln",
  "lima", "limit", "mike", "mild", "november", "novel", "oscar", "oscillate", "papa", "paper", "quebec",
  "queen", "romeo", "rome", "sierra", "sierras", "tango", "tangle", "uniform", "unicorn", "victor", "vict",
  "whiskey", "whisk", "xray", "yankee", "yank", "zulu", "café", "naïve", "世界", "你好", "مرحبا", "🍕",
];

function corpus(count: number, apps: string[], chats: number, seed: number): Message[] {
  const rnd = mulberry32(seed);
  const perChat = new Map<string, number>();
  const out: Message[] = [];
  for (let i = 0; i < count; i++) {
    const app = apps[Math.floor(rnd() * apps.length)]!;
    const chat = 1 + Math.floor(rnd() * chats);
    const key = `${app}:${chat}`;
    const number = (perChat.get(key) ?? 0) + 1;
    perChat.set(key, number);
    const words = Array.from({ length: 3 + Math.floor(rnd() * 6) }, () => WORDS[Math.floor(rnd() * WORDS.length)]!);
    out.push(msg(app, chat, number, words.join(" ")));
  }
  return out;
}

async function indexInBatches(s: ElasticsearchSearchIndex, messages: Message[], size: number): Promise<void> {
  for (let i = 0; i < messages.length; i += size) await s.index(messages.slice(i, i + size));
}

after(async () => {
  await Promise.all(opened.map((s) => s.close()));
  // Wildcard deletes are refused by default (action.destructive_requires_name): list, then delete by name.
  const indices = Object.keys(await admin.indices.get({ index: `${prefix}-*`, expand_wildcards: "all" }));
  if (indices.length > 0) await admin.indices.delete({ index: indices });
  await admin.close();
});

describe("ensure", () => {
  it("creates <alias>-v1 and the alias once, even when many processes start at once", async () => {
    const instances = Array.from({ length: 6 }, () => searchIndex("ensure"));
    await Promise.all(instances.map((s) => s.ensure()));
    await instances[0]!.ensure(); // and again, once it exists
    const targets = Object.keys(await admin.indices.getAlias({ name: `${prefix}-ensure` }));
    assert.deepEqual(targets, [`${prefix}-ensure-v1`]);
    const mapping = await admin.indices.getMapping({ index: `${prefix}-ensure-v1` });
    const props = mapping[`${prefix}-ensure-v1`]?.mappings.properties ?? {};
    assert.deepEqual((props.body as { index_prefixes?: unknown }).index_prefixes, { min_chars: 1, max_chars: 10 });
    await instances[0]!.ping();
  });
});

describe("search", () => {
  const s = searchIndex("search");
  const A = "appAAAAAAAAAAAAAAAAAAAAAA";
  const B = "appBBBBBBBBBBBBBBBBBBBBBB";
  const fixtures = [
    "Hello, world!",
    "hello moon landing",
    "مرحبا بالعالم",
    "你好世界",
    "I ❤️ 🍕 pizza tonight",
    "café au lait",
    "world and hello",
    "hello world and",
    "cat food",
    "catalog food",
    "🎉🎉🎉",
  ];
  const number = (body: string) => fixtures.indexOf(body) + 1;

  before(async () => {
    await s.ensure();
    await s.index([
      ...fixtures.map((body, i) => msg(A, 1, i + 1, body)),
      // Same words elsewhere: another chat of the app, and the same chat number of another app.
      msg(A, 2, 1, "Hello, world! from chat two"),
      msg(B, 1, 1, "Hello, world! from app B"),
    ]);
    await refresh(s);
  });

  it("matches every word as a prefix of a word ('hel wor' finds \"Hello, world!\")", async () => {
    assert.ok((await bodies(s, A, 1, "hel wor")).includes("Hello, world!"));
    assert.ok((await bodies(s, A, 1, "h")).includes("Hello, world!"));
    assert.ok((await bodies(s, A, 1, "hello, world!")).includes("Hello, world!"));
  });

  it("requires every word (AND), not any", async () => {
    const found = await bodies(s, A, 1, "hello moon");
    assert.deepEqual(found, ["hello moon landing"]);
    assert.deepEqual(await bodies(s, A, 1, "hello xylophone"), []);
    // and a word must match the START of a word
    assert.deepEqual(await bodies(s, A, 1, "ello"), []);
  });

  it("is case-insensitive", async () => {
    assert.ok((await bodies(s, A, 1, "HELLO")).includes("Hello, world!"));
    assert.ok((await bodies(s, A, 1, "hElLo WoR")).includes("Hello, world!"));
  });

  it("finds Arabic by a prefix", async () => {
    assert.deepEqual(await bodies(s, A, 1, "مرح"), ["مرحبا بالعالم"]);
    assert.deepEqual(await bodies(s, A, 1, "بالع"), ["مرحبا بالعالم"]);
  });

  it("finds CJK by a word inside the text", async () => {
    assert.deepEqual(await bodies(s, A, 1, "世界"), ["你好世界"]);
    assert.deepEqual(await bodies(s, A, 1, "你好"), ["你好世界"]);
  });

  it("indexes and finds emoji", async () => {
    assert.deepEqual(await bodies(s, A, 1, "🍕"), ["I ❤️ 🍕 pizza tonight"]);
    assert.deepEqual(await bodies(s, A, 1, "piz ton"), ["I ❤️ 🍕 pizza tonight"]);
    assert.deepEqual(await bodies(s, A, 1, "🎉"), ["🎉🎉🎉"]);
  });

  it("keeps accents as typed", async () => {
    assert.deepEqual(await bodies(s, A, 1, "caf"), ["café au lait"]);
    assert.deepEqual(await bodies(s, A, 1, "CAFÉ"), ["café au lait"]);
    assert.deepEqual(await bodies(s, A, 1, "cafe"), [], "no accent folding: 'cafe' is another word");
  });

  it("ranks the phrase in order above the same words out of order, and whole words above prefixes", async () => {
    const found = await bodies(s, A, 1, "hello world");
    assert.ok(found.indexOf("hello world and") < found.indexOf("world and hello"), found.join(" | "));
    const prefixes = await bodies(s, A, 1, "hel wor");
    assert.ok(prefixes.indexOf("hello world and") < prefixes.indexOf("world and hello"), prefixes.join(" | "));
    assert.deepEqual(await bodies(s, A, 1, "cat"), ["cat food", "catalog food"]);
  });

  it("returns messages of that chat of that app only, without internal ids", async () => {
    const { hits } = await s.search(A, 1, "hello", 50, null);
    assert.ok(hits.length > 0);
    for (const hit of hits) {
      assert.deepEqual(Object.keys(hit).sort(), ["body", "createdAt", "number"]);
      assert.equal(hit.body, fixtures[hit.number - 1], "hit is chat 1 of app A");
    }
    assert.deepEqual(await bodies(s, A, 2, "hel wor"), ["Hello, world! from chat two"]);
    assert.deepEqual(await bodies(s, B, 1, "hel wor"), ["Hello, world! from app B"]);
    assert.deepEqual(await bodies(s, B, 2, "hel wor"), []);
    assert.deepEqual(await bodies(s, "appCCCCCCCCCCCCCCCCCCCCCC", 1, "hel wor"), []);
    assert.equal(number("Hello, world!"), 1);
  });

  it("treats operators and special characters as text, never as query syntax", async () => {
    const queries = ["*", "?", '"', "\\", "~", "{", "}", "[", "(", ")", ":", "/", "OR", "AND", "NOT", "hello OR moon", "hello AND",
      "body:hello", "hel*", "hello~2", '"hello world"', "+hello -world", "a".repeat(10_000), "x".repeat(10_000) + " hello",
      "😀", "🎉", "", "   ", "\u0000", "\ud800", "<script>", "%", "&&", "||", "^", "hello world ".repeat(200)];
    for (const q of queries) {
      const result = await s.search(A, 1, q, 10, null);
      assert.ok(Array.isArray(result.hits), `q=${JSON.stringify(q.slice(0, 20))}`);
    }
    // Operators are plain words: "hello OR moon" means hello AND or* AND moon.
    assert.deepEqual(await bodies(s, A, 1, "hello OR moon"), []);
    assert.deepEqual(await bodies(s, A, 1, "hel*"), (await bodies(s, A, 1, "hel")));
  });

  it("rejects a bad cursor or limit as validation_failed", async () => {
    const bad = ["!!!", "e30", Buffer.from("[1,2]").toString("base64url"), Buffer.from('[1,2,"nope"]').toString("base64url"), "A".repeat(5000)];
    for (const cursor of bad) {
      await assert.rejects(s.search(A, 1, "hello", 1, cursor), (err: unknown) => err instanceof DomainError && err.code === "validation_failed");
    }
    // A cursor is bound to its query.
    const { next } = await s.search(A, 1, "hello", 1, null);
    assert.ok(next !== null);
    await assert.rejects(s.search(A, 1, "world", 1, next), (err: unknown) => err instanceof DomainError && err.code === "validation_failed");
    await assert.rejects(s.search(A, 2, "hello", 1, next), (err: unknown) => err instanceof DomainError && err.code === "validation_failed");
    for (const limit of [0, -1, 1.5, 201]) {
      await assert.rejects(s.search(A, 1, "hello", limit, null), (err: unknown) => err instanceof DomainError && err.code === "validation_failed");
    }
  });
});

describe("tokenizer and query terms against Elasticsearch's _analyze", () => {
  // Strings whose tokenization is easy to get wrong: punctuation that joins only
  // between letters or digits, scripts without spaces, emoji sequences, marks.
  const samples = [
    "Hello, world!", "hel,wor", "foo.bar", "a:b", "1,000", "a,1", "foo_bar", "©", "❤️", "1️⃣", "½", 'צה"ל', "it's", "x.y.z.",
    "ab–cd", "¿qué?", "ﾊﾝｶｸ", "コンピュータ", "สวัสดีครับ", "abc世界", "hi🎉there", "👨‍👩‍👧", "🇫🇷🇩🇪", "İstanbul", "ΣΑΣ", "٣٫١٤",
    "a\u202Fb", "ひらがな", "カタカナ漢字", "한국어 텍스트", "_", "_foo", "ab'", "مرحبا بالعالم", "你好世界", "cafe\u0301 au lait",
    "e-mail me@example.com", "http://x.org/a?b=c", "$100.50 or 3.14", "U.S.A.", "👍🏽 ok", "#hashtag @user", "x*y?z", '"quoted"',
    "\\back\\slash", "hello~2 {x} [y] (z)", "😀😀😀", "Ⅻ chapters", "naïve résumé", "straße", "ﬁne", "12:30", "v1.2.3", "l'homme",
    "O’Reilly", "Привет, мир", "नमस्ते दुनिया", "ສະບາຍດີ", "ជំរាបសួរ", "日本語のテキスト", "𠀋𠀋", "a\u00ADb", "zero\u200Bwidth", "tab\there",
  ];
  // And the other texts the search tests index or query.
  const otherTexts = [
    "can't stop, won't stop", "pi is 3.14; v2 rocks", "snake_case and hello.world", "?! ... —", "Café CRÈME", "ΟΔΟΣ",
    "abc你好def", "コーヒーを飲む", "ภาษาไทยง่าย ok", "party 🎉 tonight", "👍🏽 👨‍👩‍👧 🇫🇷 1️⃣", "hi🙂there", "I ❤️ 🍕 pizza tonight",
    "hel wor", "hElLo WoR", "CAFÉ", "世纪", "ヒー", "شكرا جزيلا", "再见", "+hello -world", "body:hello", "hello~2", "<script>",
    "a".repeat(300), "x".repeat(300) + " hello", "_".repeat(300) + "a", "𝒜".repeat(200), "a.".repeat(200),
  ];
  const SEED = 20240601;
  const random = randomTexts(1000, SEED);

  it("splits tricky texts exactly as the standard analyzer does", async () => {
    await assertSameTokens([...samples, ...otherTexts], "samples");
  });

  it(`splits 1,000 random mixed-script texts exactly as the standard analyzer does (seed ${SEED})`, async () => {
    await assertSameTokens(random, `random texts, seed ${SEED}`);
  });

  it("sends Elasticsearch terms that it analyzes back to themselves, one token each", async () => {
    const terms = [...new Set([...samples, ...otherTexts, ...random].flatMap(queryTerms))];
    const analyzed = await analyzeAll(terms);
    const changed = terms.map((term, i) => ({ term, tokens: analyzed[i] })).filter(({ term, tokens }) => tokens?.length !== 1 || tokens[0] !== term);
    assert.deepEqual(changed.slice(0, 10), [], `${changed.length} of ${terms.length} terms`);
  });

  it("finds every message by its own text and by the first letters of its words", async () => {
    const s = searchIndex("words");
    await s.ensure();
    const A = "appQQQQQQQQQQQQQQQQQQQQQQ";
    await s.index(samples.map((body, i) => msg(A, i + 1, 1, body)));
    await refresh(s);
    for (const [i, body] of samples.entries()) {
      const tokens = (await admin.indices.analyze({ analyzer: "standard", text: body })).tokens ?? [];
      const found = await bodies(s, A, i + 1, body);
      assert.deepEqual(found, tokens.length === 0 ? [] : [body], `own text ${JSON.stringify(body)}`);
      const firstLetters = queryTerms(body).map((w) => Array.from(w).slice(0, 2).join("")).join(" ");
      if (tokens.length > 0) assert.deepEqual(await bodies(s, A, i + 1, firstLetters), [body], `prefixes ${JSON.stringify(firstLetters)}`);
    }
  });
});

/** Fails listing the first texts whose tokens differ from Elasticsearch's. */
async function assertSameTokens(texts: string[], what: string): Promise<void> {
  const expected = await analyzeAll(texts);
  const differ = texts
    .map((text, i) => ({ i, text, elasticsearch: expected[i], ours: tokenize(text) }))
    .filter(({ elasticsearch, ours }) => JSON.stringify(elasticsearch) !== JSON.stringify(ours));
  assert.deepEqual(differ.slice(0, 10), [], `${what}: ${texts.length - differ.length} of ${texts.length} agree`);
}

/**
 * Elasticsearch's `standard` tokens for each text. 100 texts per `_analyze`
 * request and at most 2 requests at a time: the analyze pool is 1 thread with a
 * queue of 16, and 1,000 one-text requests would take far longer. The texts of
 * one request are analyzed one after another, each starting one offset past the
 * end of the previous, so start offsets tell which text a token came from.
 */
async function analyzeAll(texts: string[]): Promise<string[][]> {
  for (const text of texts) assert.ok(text.isWellFormed(), "a lone surrogate cannot reach Elasticsearch as such");
  const result: string[][] = texts.map(() => []);
  const batches: number[] = [];
  for (let first = 0; first < texts.length; first += 100) batches.push(first);
  const worker = async (): Promise<void> => {
    for (let first = batches.shift(); first !== undefined; first = batches.shift()) {
      const batch = texts.slice(first, first + 100);
      const starts: number[] = [];
      let offset = 0;
      for (const text of batch) {
        starts.push(offset);
        offset += text.length + 1;
      }
      const { tokens = [] } = await admin.indices.analyze({ analyzer: "standard", text: batch });
      for (const token of tokens) {
        let i = starts.length - 1;
        while (starts[i]! > token.start_offset) i--;
        result[first + i]!.push(token.token);
      }
    }
  };
  await Promise.all([worker(), worker()]);
  return result;
}

/** Random texts mixing scripts, emoji sequences, numbers and the punctuation that joins or splits words. */
function randomTexts(count: number, seed: number): string[] {
  const rnd = mulberry32(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  const pieces: string[][] = [
    ["Café", "naïve", "résumé", "STRASSE", "straße", "Ångström", "e\u0301cole", "Łódź", "ÇA", "İstanbul", "ΣΟΦΙΑ", "ﬁne", "Hello", "wörld", "x"],
    ["مرحبا", "بالعالم", "العربية", "٣٫١٤", "١٢٣", "كتاب"],
    ['צה"ל', "שלום", "ג'ירפה", 'ארה"ב', "עברית", "״", "׳"],
    ["你好", "世界", "漢字", "中文", "𠀋"],
    ["ひらがな", "の", "を", "ありがとう"],
    ["コーヒー", "カタカナ", "ラーメン", "ー", "ｶﾀｶﾅ", "ﾗｰﾒﾝ"],
    ["สวัสดี", "ภาษาไทย", "ครับ", "ง่าย"],
    ["🎉", "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "🇩🇪", "1️⃣", "#️⃣", "❤️", "🏳️‍🌈", "🧑🏿‍💻", "©", "™", "♡", "🏽", "\u200D", "\uFE0F"],
    ["1,000", "3.14", "1.2.3", "1,000.50", "42", "007", "1,", ".5", "12:30", "v2"],
    ["it's", "l'homme", "O’Reilly", "'", "’", "ab'", "'cd"],
    ["_", "__", "snake_case", "_foo", "bar_"],
    ["\u200B", "\u00AD", "\u2060", "\u0301"],
  ];
  const separators = ["", "", " ", " ", " ", ",", ".", "'", "’", '"', "_", ":", "-", "\u200B", "\n", "!", "?", "/", "@", "&"];
  return Array.from({ length: count }, () => {
    let text = "";
    const words = 1 + Math.floor(rnd() * 8);
    for (let i = 0; i < words; i++) {
      if (i > 0 || rnd() < 0.2) text += pick(separators);
      text += pick(pick(pieces));
    }
    if (rnd() < 0.2) text += pick(separators);
    return text;
  });
}

describe("writes", () => {
  const s = searchIndex("writes");
  const A = "appWWWWWWWWWWWWWWWWWWWWWW";
  before(() => s.ensure());

  it("makes a message searchable within 2 s without an explicit refresh", async () => {
    await s.index([msg(A, 9, 1, "freshly written walrus")]);
    const found = await eventually(() => bodies(s, A, 9, "walr"), (b) => b.length === 1, 2000);
    assert.deepEqual(found, ["freshly written walrus"]);
  });

  it("finds an edited message by its new text, not its old, and a late older edit never overwrites", async () => {
    await s.index([msg(A, 1, 1, "apple banana", 1000)]);
    await refresh(s);
    assert.deepEqual(await bodies(s, A, 1, "ban"), ["apple banana"]);

    await s.index([msg(A, 1, 1, "apple cherry", 3000)]);
    await refresh(s);
    assert.deepEqual(await bodies(s, A, 1, "cher"), ["apple cherry"]);
    assert.deepEqual(await bodies(s, A, 1, "ban"), []);

    // An older edit delivered late is not an error (the index already holds a newer state) and changes nothing.
    await s.index([msg(A, 1, 1, "apple durian", 2000)]);
    // Redelivery of the current version is idempotent.
    await s.index([msg(A, 1, 1, "apple cherry", 3000)]);
    // Both orders inside one batch end on the newest.
    await s.index([msg(A, 1, 2, "grape new", 5000), msg(A, 1, 2, "grape old", 4000)]);
    await refresh(s);
    assert.deepEqual(await bodies(s, A, 1, "dur"), []);
    assert.deepEqual(await bodies(s, A, 1, "cher"), ["apple cherry"]);
    assert.deepEqual(await bodies(s, A, 1, "grape"), ["grape new"]);
  });

  it("throws, with the failed count, when any item of a batch fails", async () => {
    const batch = [msg(A, 2, 1, "fine one"), msg(A, 1e20, 1, "chat number too large for a long"), msg(A, 2, 2, "fine two")];
    await assert.rejects(s.index(batch), (err: unknown) => {
      assert.ok(err instanceof BulkIndexError);
      assert.equal(err.failed, 1);
      assert.equal(err.total, 3);
      assert.equal(err.failures[0]?.position, 1);
      assert.doesNotMatch(err.message, new RegExp(A), "no app token in the error");
      return true;
    });
  });

  it("pages through every hit with next, without duplicates", async () => {
    // 137 matches with many score ties (same text) and many distinct scores (different lengths).
    const messages = Array.from({ length: 137 }, (_, i) => msg(A, 3, i + 1, `paging ${"filler ".repeat(i % 9)}item ${i % 4 === 0 ? "paging" : ""}`));
    messages.push(msg(A, 3, 138, "unrelated"));
    await s.index(messages);
    await refresh(s);
    for (const limit of [1, 7, 50, 200]) {
      const seen = await allPages(s, A, 3, "pag", limit);
      assert.equal(new Set(seen).size, seen.length, `no duplicates at limit ${limit}`);
      assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 137 }, (_, i) => i + 1), `complete at limit ${limit}`);
    }
    // Pages concatenate to exactly the order of one big page.
    assert.deepEqual(await allPages(s, A, 3, "paging item", 10), await allPages(s, A, 3, "paging item", 200));
  });

  it("maps an unreachable Elasticsearch to UnavailableError", async () => {
    const down = new ElasticsearchSearchIndex({ node: "http://127.0.0.1:1", alias: `${prefix}-down`, clientOptions: { maxRetries: 0, requestTimeout: 2000 } });
    try {
      const unavailable = (err: unknown) => err instanceof UnavailableError && err.code === "unavailable";
      await assert.rejects(down.search(A, 1, "hello", 10, null), unavailable);
      await assert.rejects(down.index([msg(A, 1, 1, "x")]), unavailable);
      await assert.rejects(down.ensure(), unavailable);
      await assert.rejects(down.ping(), unavailable);
    } finally {
      await down.close();
    }
  });

  it("answers unavailable, not an empty result, when the alias is missing", async () => {
    const missing = searchIndex("never-ensured");
    await assert.rejects(missing.search(A, 1, "hello", 10, null), UnavailableError);
    await assert.rejects(missing.ping(), UnavailableError);
    // and a write never auto-creates an index under the alias name
    await assert.rejects(missing.index([msg(A, 1, 1, "x")]));
    assert.equal(await admin.indices.exists({ index: missing.alias }), false);
  });
});

describe("reindex", () => {
  it("rebuilds 20,000 messages while searches keep answering identically", async (t) => {
    const s = searchIndex("reindex");
    await s.ensure();
    const apps = ["appR1RRRRRRRRRRRRRRRRRRRR", "appR2RRRRRRRRRRRRRRRRRRRR", "appR3RRRRRRRRRRRRRRRRRRRR"];
    const messages = corpus(20_000, apps, 10, 42);
    const store = new FakeStore();
    store.load(messages);
    let started = performance.now();
    await indexInBatches(s, messages, 2000);
    await refresh(s);
    t.diagnostic(`initial bulk index of 20,000 messages: ${Math.round(performance.now() - started)} ms`);

    const queries: [string, number, string][] = [];
    const qs = ["alp", "be ga", "hotel india", "caf", "世界", "مرح", "🍕", "o", "t", "nov osc", "vict whisk", "q"];
    apps.forEach((app, i) => qs.forEach((q, j) => queries.push([app, 1 + ((i * 7 + j) % 10), q])));
    const baseline = await Promise.all(queries.map(([app, chat, q]) => numbers(s, app, chat, q, 50)));
    assert.ok(baseline.every((r) => r.length > 0), "every probe query has hits");

    let done = false;
    let searches = 0;
    const failures: string[] = [];
    // Four clients searching back to back, so some request is always in flight
    // at the swap and at the deletion of the old index.
    const loop = async (offset: number) => {
      for (let i = offset; !done; i++) {
        const k = i % queries.length;
        const [app, chat, q] = queries[k]!;
        try {
          const got = await numbers(s, app, chat, q, 50);
          searches++;
          if (JSON.stringify(got) !== JSON.stringify(baseline[k])) failures.push(`changed: ${q}`);
        } catch (err) {
          failures.push(`failed: ${q}: ${String(err)}`);
        }
      }
    };
    const loops = Promise.all([0, 9, 18, 27].map(loop));

    started = performance.now();
    const result = await reindex({ client: admin, alias: s.alias, scan: store.scan, batchSize: 1000 });
    const tookMs = performance.now() - started;
    done = true;
    await loops;
    t.diagnostic(`reindex of ${result.indexed} messages: ${Math.round(tookMs)} ms; ${searches} searches ran meanwhile`);

    assert.equal(result.indexed, 20_000);
    assert.equal(result.previous, `${s.alias}-v1`);
    assert.equal(result.current, `${s.alias}-v2`);
    assert.equal(result.previousDeleted, true);
    assert.deepEqual(failures, []);
    assert.ok(searches > 0, "searches ran during the rebuild");
    assert.deepEqual(Object.keys(await admin.indices.getAlias({ name: s.alias })), [`${s.alias}-v2`]);
    assert.equal(await admin.indices.exists({ index: `${s.alias}-v1` }), false);
    assert.equal(await admin.indices.existsAlias({ name: `${s.alias}-building` }), false);
    const count = await admin.count({ index: s.alias });
    assert.equal(count.count, 20_000);
    const afterwards = await Promise.all(queries.map(([app, chat, q]) => numbers(s, app, chat, q, 50)));
    assert.deepEqual(afterwards, baseline);
  });

  it("loses no write that lands while the rebuild runs", async () => {
    const s = searchIndex("reindex-live");
    await s.ensure();
    const A = "appLLLLLLLLLLLLLLLLLLLLLL";
    const Z = "appZZZZZZZZZZZZZZZZZZZZZZ";
    const messages = [
      msg(A, 1, 1, "kiwi original text"),
      ...corpus(3000, ["appM0MMMMMMMMMMMMMMMMMMMM", "appM1MMMMMMMMMMMMMMMMMMMM"], 5, 7),
      msg(Z, 1, 1, "zucchini original"),
    ];
    const store = new FakeStore();
    store.load(messages);
    await indexInBatches(s, messages, 1000);

    // Like the worker: persist first, then index.
    const write = async (batch: Message[]) => {
      store.put(batch);
      await s.index(batch);
    };
    store.onScan = async (call) => {
      if (call !== 3) return;
      // The scan is past app L (first key) and not yet at app Z (last key).
      await write([
        msg(A, 1, 1, "kiwi edited to quokka"), // already copied: must be re-applied to the new index
        msg(A, 1, 2, "brand new wombat"), // new, behind the scan position
        msg(Z, 1, 1, "zucchini edited to yak"), // ahead of the scan: the scan copies this state
      ]);
    };
    const result = await reindex({ client: admin, alias: s.alias, scan: store.scan, batchSize: 500 });
    assert.equal(result.current, `${s.alias}-v2`);
    // A write after the swap goes to the new index only.
    await write([msg(A, 1, 3, "after swap narwhal")]);
    await refresh(s);

    assert.deepEqual(await bodies(s, A, 1, "quok"), ["kiwi edited to quokka"]);
    assert.deepEqual(await bodies(s, A, 1, "original"), []);
    assert.deepEqual(await bodies(s, A, 1, "womb"), ["brand new wombat"]);
    assert.deepEqual(await bodies(s, A, 1, "narw"), ["after swap narwhal"]);
    assert.deepEqual(await bodies(s, Z, 1, "yak"), ["zucchini edited to yak"]);
    assert.deepEqual(await bodies(s, Z, 1, "original"), []);
    assert.equal((await admin.count({ index: s.alias })).count, messages.length + 2);
  });

  it("lets only one reindex run at a time and cleans up after a failed one", async () => {
    const s = searchIndex("reindex-lock");
    await s.ensure();
    const A = "appKKKKKKKKKKKKKKKKKKKKKK";
    const store = new FakeStore();
    store.load(Array.from({ length: 50 }, (_, i) => msg(A, 1, i + 1, `lock test ${i}`)));
    await s.index(await store.scan(null, 100));
    store.scans = 0;

    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inScan = new Promise<void>((resolve) => (entered = resolve));
    store.onScan = async (call) => {
      if (call === 1) {
        entered();
        await gate;
      }
    };
    const first = reindex({ client: admin, alias: s.alias, scan: store.scan, batchSize: 20 });
    await inScan;
    await assert.rejects(reindex({ client: admin, alias: s.alias, scan: store.scan }), ReindexInProgressError);
    release();
    const done = await first;
    assert.equal(done.current, `${s.alias}-v2`);
    assert.equal(done.indexed, 50);

    // A scan that fails leaves the live alias alone and removes the half-built index.
    store.onScan = async (call) => {
      if (call === 2) throw new Error("store went away");
    };
    store.scans = 0;
    await assert.rejects(reindex({ client: admin, alias: s.alias, scan: store.scan, batchSize: 20 }), /store went away/);
    assert.deepEqual(Object.keys(await admin.indices.getAlias({ name: s.alias })), [`${s.alias}-v2`]);
    assert.equal(await admin.indices.exists({ index: `${s.alias}-v3` }), false);
    assert.equal(await admin.indices.existsAlias({ name: `${s.alias}-building` }), false);
    await refresh(s);
    assert.equal((await s.search(A, 1, "lock", 200, null)).hits.length, 50);
  });
});
