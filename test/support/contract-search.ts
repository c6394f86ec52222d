// Contract of the SearchIndex port (src/ports/search.ts) and the search promises of docs/DESIGN.md, for
// every adapter. Indexing may become visible later (Elasticsearch refreshes
// about once a second): each test polls until what it indexed is found, then
// checks exact results — all documents of a test are indexed in one call, so
// once one is visible the others are too.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Message, SearchHit } from "../../src/domain/types.js";
import type { SearchIndex } from "../../src/ports/search.js";
import { eventually, newToken, using, type Cleanup } from "./contract-helpers.js";

export interface SearchFixture extends Cleanup {
  search: SearchIndex;
}

const T0 = 1_700_000_000_000;

function message(app: string, chat: number, number: number, body: string, updatedAt = T0 + number): Message {
  return { app, chat, number, body, createdAt: T0 + number, updatedAt };
}

/** One chat's messages, numbered from 1 in the order given. */
function chatOf(app: string, chat: number, bodies: string[]): Message[] {
  return bodies.map((body, i) => message(app, chat, i + 1, body));
}

type Numbers = (query: string) => Promise<number[]>;

function searcher(search: SearchIndex, app: string, chat: number): { numbers: Numbers; sorted: Numbers; hits: (query: string) => Promise<SearchHit[]> } {
  const hits = async (query: string) => (await search.search(app, chat, query, 50, null)).hits;
  const numbers = async (query: string) => (await hits(query)).map((h) => h.number);
  const sorted = async (query: string) => (await numbers(query)).sort((x, y) => x - y);
  return { hits, numbers, sorted };
}

/** Indexes, then waits until `probe` finds what it should. */
async function indexAndWait(search: SearchIndex, messages: Message[], probe: () => Promise<void>): Promise<void> {
  await search.ensure();
  await search.index(messages);
  await eventually(probe, { what: "indexed messages to become searchable" });
}

export function searchContract(name: string, make: () => Promise<SearchFixture>): void {
  describe(`SearchIndex contract: ${name}`, () => {
    it("matches when every query word starts a body word, in any case", () =>
      using(make, async ({ search }) => {
        const app = newToken();
        const { sorted, hits } = searcher(search, app, 1);
        await indexAndWait(search, chatOf(app, 1, ["Hello, world!", "Hello there", "WORLDWIDE web", "nothing related"]), async () => {
          assert.deepEqual(await sorted("hel wor"), [1]);
        });
        assert.deepEqual(await sorted("hello"), [1, 2]);
        assert.deepEqual(await sorted("HELLO"), [1, 2]);
        assert.deepEqual(await sorted("wor"), [1, 3]);
        assert.deepEqual(await sorted("World"), [1, 3]);
        assert.deepEqual(await sorted("wor HEL"), [1], "word order does not matter for matching");
        assert.deepEqual(await sorted("hel xyz"), [], "every word must match");
        assert.deepEqual(await sorted("ello"), [], "a word is matched from its start");
        assert.deepEqual(await hits("hello, WORLD"), [{ number: 1, body: "Hello, world!", createdAt: T0 + 1 }]);
      }));

    it("finds Arabic by a word's beginning", () =>
      using(make, async ({ search }) => {
        const app = newToken();
        const { sorted } = searcher(search, app, 1);
        await indexAndWait(search, chatOf(app, 1, ["مرحبا بالعالم", "شكرا جزيلا"]), async () => {
          assert.deepEqual(await sorted("مرح"), [1]);
        });
        assert.deepEqual(await sorted("بالع"), [1]);
        assert.deepEqual(await sorted("مرحبا بالعالم"), [1]);
        assert.deepEqual(await sorted("شكر"), [2]);
        assert.deepEqual(await sorted("رحبا"), []);
      }));

    it("finds Chinese by any of its ideographs and Japanese katakana by a word's beginning", () =>
      using(make, async ({ search }) => {
        const app = newToken();
        const { sorted } = searcher(search, app, 1);
        await indexAndWait(search, chatOf(app, 1, ["你好世界", "コーヒーを飲む", "再见"]), async () => {
          assert.deepEqual(await sorted("世界"), [1]);
        });
        assert.deepEqual(await sorted("你"), [1]);
        assert.deepEqual(await sorted("你好"), [1]);
        assert.deepEqual(await sorted("世纪"), [], "纪 is in no message");
        assert.deepEqual(await sorted("コー"), [2]);
        assert.deepEqual(await sorted("コーヒー"), [2]);
        assert.deepEqual(await sorted("ヒー"), [], "a katakana word is one token: matched from its start");
        assert.deepEqual(await sorted("见"), [3]);
      }));

    it("indexes bodies with emoji, which are words of their own", () =>
      using(make, async ({ search }) => {
        const app = newToken();
        const { sorted } = searcher(search, app, 1);
        await indexAndWait(search, chatOf(app, 1, ["🎉🎉", "party 🎉 tonight", "party time"]), async () => {
          assert.deepEqual(await sorted("party"), [2, 3]);
        });
        assert.deepEqual(await sorted("tonight"), [2]);
        assert.deepEqual(await sorted("🎉"), [1, 2]);
        assert.deepEqual(await sorted("party 🎉"), [2]);
      }));

    it("keeps accents as typed: café is found by caf and café, not by cafe", () =>
      using(make, async ({ search }) => {
        const app = newToken();
        const { sorted } = searcher(search, app, 1);
        await indexAndWait(search, chatOf(app, 1, ["café au lait", "cafeteria food"]), async () => {
          assert.deepEqual(await sorted("caf"), [1, 2]);
        });
        assert.deepEqual(await sorted("café"), [1]);
        assert.deepEqual(await sorted("CAFÉ"), [1]);
        assert.deepEqual(await sorted("cafe"), [2]);
      }));

    it("ranks whole words above mere prefixes", () =>
      using(make, async ({ search }) => {
        const app = newToken();
        const { numbers } = searcher(search, app, 1);
        // The whole-word hit has the lower number: number order alone would put it last.
        await indexAndWait(search, chatOf(app, 1, ["cat pictures", "category theory"]), async () => {
          assert.equal((await numbers("cat")).length, 2);
        });
        assert.deepEqual(await numbers("cat"), [1, 2]);
      }));

    it("ranks the query as a phrase above the same words scattered", () =>
      using(make, async ({ search }) => {
        const app = newToken();
        const { numbers } = searcher(search, app, 1);
        await indexAndWait(search, chatOf(app, 1, ["quick brown fox jumps", "brown dogs are quick"]), async () => {
          assert.equal((await numbers("quick brown")).length, 2);
        });
        assert.deepEqual(await numbers("quick brown"), [1, 2]);
        assert.deepEqual(await numbers("brown dogs"), [2], "both words required: only the second has dogs");
      }));

    it("returns only messages of the chat and application searched", () =>
      using(make, async ({ search }) => {
        const a = newToken();
        const b = newToken();
        await indexAndWait(
          search,
          [
            message(a, 1, 1, "shared secret one"),
            message(a, 1, 2, "shared secret two"),
            message(a, 2, 1, "shared secret elsewhere"),
            message(b, 1, 1, "shared secret of b"),
          ],
          async () => {
            assert.equal((await searcher(search, a, 1).numbers("shared")).length, 2);
          },
        );
        assert.deepEqual((await searcher(search, a, 1).hits("shared")).map((h) => h.body).sort(), ["shared secret one", "shared secret two"]);
        assert.deepEqual((await searcher(search, a, 2).hits("shared")).map((h) => h.body), ["shared secret elsewhere"]);
        assert.deepEqual((await searcher(search, b, 1).hits("shared")).map((h) => h.body), ["shared secret of b"]);
        assert.deepEqual(await searcher(search, b, 2).numbers("shared"), []);
        assert.deepEqual(await searcher(search, newToken(), 1).numbers("shared"), []);
      }));

    it("finds an edited message by its new text only, and a stale copy never brings the old text back", () =>
      using(make, async ({ search }) => {
        const app = newToken();
        const { hits, numbers } = searcher(search, app, 1);
        await indexAndWait(search, [message(app, 1, 1, "original apple text", T0 + 1)], async () => {
          assert.deepEqual(await numbers("apple"), [1]);
        });
        await search.index([message(app, 1, 1, "replaced banana text", T0 + 2)]);
        await eventually(async () => assert.deepEqual(await numbers("banana"), [1]), { what: "the edit to become searchable" });
        assert.deepEqual(await numbers("apple"), []);
        assert.deepEqual(await hits("banana"), [{ number: 1, body: "replaced banana text", createdAt: T0 + 1 }]);

        // A late redelivery of the original, then a marker: once the marker is
        // visible, the redelivery (indexed before it) would be too.
        await search.index([message(app, 1, 1, "original apple text", T0 + 1)]);
        await search.index([message(app, 1, 2, "marker kiwi", T0 + 3)]);
        await eventually(async () => assert.deepEqual(await numbers("kiwi"), [2]), { what: "the marker" });
        assert.deepEqual(await numbers("apple"), []);
        assert.deepEqual(await numbers("banana"), [1]);
      }));

    it("returns each hit's sender, and none for an anonymous message", () =>
      using(make, async ({ search }) => {
        const app = newToken();
        const { hits } = searcher(search, app, 1);
        const signed = { ...message(app, 1, 1, "signed plum"), sender: { id: "alice", name: "Alice" } };
        await indexAndWait(search, [signed, message(app, 1, 2, "anonymous plum")], async () => {
          assert.equal((await hits("plum")).length, 2);
        });
        const found = (await hits("plum")).sort((a, b) => a.number - b.number);
        assert.deepEqual(found, [
          { number: 1, body: "signed plum", createdAt: T0 + 1, sender: { id: "alice", name: "Alice" } },
          { number: 2, body: "anonymous plum", createdAt: T0 + 2 },
        ]);
      }));

    it("never finds a deleted message again: its tombstone outranks any later version", () =>
      using(make, async ({ search }) => {
        const app = newToken();
        const { numbers } = searcher(search, app, 1);
        await indexAndWait(search, [message(app, 1, 1, "doomed cherry"), message(app, 1, 2, "kept cherry")], async () => {
          assert.deepEqual((await numbers("cherry")).sort(), [1, 2]);
        });
        await search.index([{ ...message(app, 1, 1, "", T0 + 10), deleted: true }]);
        await eventually(async () => assert.deepEqual(await numbers("cherry"), [2]), { what: "the tombstone to replace the message" });
        // An edit racing the deletion, with a later version, then a marker.
        await search.index([message(app, 1, 1, "revived cherry", T0 + 99)]);
        await search.index([message(app, 1, 3, "marker fig", T0 + 100)]);
        await eventually(async () => assert.deepEqual(await numbers("fig"), [3]), { what: "the marker" });
        assert.deepEqual(await numbers("cherry"), [2]);
        assert.deepEqual(await numbers("revived"), []);
      }));

    it("pages through every hit with next, best first, without repeats", () =>
      using(make, async ({ search }) => {
        const app = newToken();
        const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"];
        await indexAndWait(search, chatOf(app, 1, [...words.map((w) => `page marker ${w}`), "unrelated"]), async () => {
          assert.equal((await search.search(app, 1, "page marker", 50, null)).hits.length, 7);
        });
        const pages: number[][] = [];
        let next: string | null = null;
        do {
          const page: { hits: SearchHit[]; next: string | null } = await search.search(app, 1, "page marker", 3, next);
          pages.push(page.hits.map((h) => h.number));
          next = page.next;
          assert.ok(pages.length <= 10, "paging ends");
        } while (next !== null);
        // Equal scores (same words, same length): newest number first.
        assert.deepEqual(pages, [
          [7, 6, 5],
          [4, 3, 2],
          [1],
        ]);
      }));

    it("returns nothing for a query without words", () =>
      using(make, async ({ search }) => {
        const app = newToken();
        await indexAndWait(search, chatOf(app, 1, ["anything at all", "?! ..."]), async () => {
          assert.equal((await search.search(app, 1, "any", 50, null)).hits.length, 1);
        });
        for (const query of ["", "   ", "?!", " . , "]) {
          assert.deepEqual(await search.search(app, 1, query, 50, null), { hits: [], next: null }, JSON.stringify(query));
        }
      }));
  });
}
