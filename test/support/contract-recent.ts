// Contract of the RecentCache port (src/ports/recent.ts), for every adapter.
// The factory says how many entries per chat its cache keeps (5 to 100).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Chat, Message } from "../../src/domain/types.js";
import type { RecentCache } from "../../src/ports/recent.js";
import { newToken, shuffled, using, type Cleanup } from "./contract-helpers.js";

export interface RecentFixture extends Cleanup {
  recent: RecentCache;
  /** Entries kept per chat (and chats per application). */
  maxPerChat: number;
}

const T0 = 1_700_000_000_000;
const NO_UPPER = Number.MAX_SAFE_INTEGER;

function message(app: string, chat: number, number: number, body = `m${number}`, at = T0 + number): Message {
  return { app, chat, number, body, createdAt: T0 + number, updatedAt: at };
}

function chat(app: string, number: number, name: string | null = `c${number}`, at = T0 + number): Chat {
  return { app, number, name, messagesCount: 0, createdAt: T0 + number, updatedAt: at };
}

const numbers = (items: { number: number }[]): number[] => items.map((i) => i.number);

export function recentContract(name: string, make: () => Promise<RecentFixture>): void {
  describe(`RecentCache contract: ${name}`, () => {
    it("returns what was put, and null for what was not", () =>
      using(make, async ({ recent }) => {
        const app = newToken();
        await recent.putMessages([message(app, 1, 1, "hello ✓ 👋"), message(app, 1, 2)]);
        assert.deepEqual(await recent.getMessage(app, 1, 1), message(app, 1, 1, "hello ✓ 👋"));
        assert.equal(await recent.getMessage(app, 1, 3), null);
        assert.equal(await recent.getMessage(app, 2, 1), null);
        assert.equal(await recent.getMessage(newToken(), 1, 1), null);

        await recent.putChats([chat(app, 1, null), chat(app, 2, "named")]);
        assert.deepEqual(await recent.getChat(app, 1), chat(app, 1, null));
        assert.deepEqual(await recent.getChat(app, 2), chat(app, 2, "named"));
        assert.equal(await recent.getChat(app, 3), null);
      }));

    it("lists messages strictly between after and before, ascending or descending, up to limit", () =>
      using(make, async ({ recent }) => {
        const app = newToken();
        await recent.putMessages(shuffled(Array.from({ length: 10 }, (_, i) => message(app, 1, i + 1)), 4));
        assert.deepEqual(numbers(await recent.listMessages(app, 1, 2, 8, 50, false)), [3, 4, 5, 6, 7]);
        assert.deepEqual(numbers(await recent.listMessages(app, 1, 2, 8, 50, true)), [7, 6, 5, 4, 3]);
        assert.deepEqual(numbers(await recent.listMessages(app, 1, 2, 8, 2, false)), [3, 4]);
        assert.deepEqual(numbers(await recent.listMessages(app, 1, 2, 8, 2, true)), [7, 6]);
        assert.deepEqual(numbers(await recent.listMessages(app, 1, 0, NO_UPPER, 3, true)), [10, 9, 8]);
        assert.deepEqual(numbers(await recent.listMessages(app, 1, 7, NO_UPPER, 50, false)), [8, 9, 10]);
        assert.deepEqual(numbers(await recent.listMessages(app, 1, 0, 4, 50, true)), [3, 2, 1]);
        assert.deepEqual(await recent.listMessages(app, 1, 10, NO_UPPER, 50, false), []);
        assert.deepEqual((await recent.listMessages(app, 1, 4, 6, 50, false))[0], message(app, 1, 5));
      }));

    it("lists chats after a number, ascending, up to limit", () =>
      using(make, async ({ recent }) => {
        const app = newToken();
        await recent.putChats(shuffled([1, 2, 3, 5, 8].map((n) => chat(app, n)), 2));
        assert.deepEqual(numbers(await recent.listChats(app, 0, 50)), [1, 2, 3, 5, 8]);
        assert.deepEqual(numbers(await recent.listChats(app, 2, 2)), [3, 5]);
        assert.deepEqual(numbers(await recent.listChats(app, 5, 50)), [8]);
        assert.deepEqual(await recent.listChats(app, 8, 50), []);
        assert.deepEqual((await recent.listChats(app, 4, 1))[0], chat(app, 5));
      }));

    it("never lets a put replace a fresher version", () =>
      using(make, async ({ recent }) => {
        const app = newToken();
        await recent.putMessages([message(app, 1, 1, "v1", T0 + 1)]);
        await recent.putMessages([message(app, 1, 1, "v3", T0 + 30)]);
        assert.equal((await recent.getMessage(app, 1, 1))?.body, "v3", "a fresher version replaces");
        await recent.putMessages([message(app, 1, 1, "v2", T0 + 20)]);
        assert.equal((await recent.getMessage(app, 1, 1))?.body, "v3", "a stale version does not");
        assert.deepEqual((await recent.listMessages(app, 1, 0, NO_UPPER, 50, false)).map((m) => m.body), ["v3"]);

        await recent.putChats([chat(app, 1, "new name", T0 + 30)]);
        await recent.putChats([chat(app, 1, "old name", T0 + 20)]);
        assert.equal((await recent.getChat(app, 1))?.name, "new name");
        assert.deepEqual((await recent.listChats(app, 0, 50)).map((c) => c.name), ["new name"]);
      }));

    it("keeps the newest entries past its per-chat cap", () =>
      using(make, async ({ recent, maxPerChat }) => {
        assert.ok(maxPerChat >= 5 && maxPerChat <= 100, "the fixture's cap is testable");
        const app = newToken();
        const total = maxPerChat + 5;
        for (let n = 1; n <= total; n++) await recent.putMessages([message(app, 1, n)]);
        const kept = numbers(await recent.listMessages(app, 1, 0, NO_UPPER, 1000, false));
        assert.deepEqual(kept, Array.from({ length: maxPerChat }, (_, i) => i + 6));
        assert.equal(await recent.getMessage(app, 1, 5), null);
        assert.deepEqual(await recent.getMessage(app, 1, total), message(app, 1, total));

        await recent.putChats(Array.from({ length: total }, (_, i) => chat(app, i + 1)));
        assert.deepEqual(numbers(await recent.listChats(app, 0, 1000)), Array.from({ length: maxPerChat }, (_, i) => i + 6));
      }));

    it("keeps applications and chats apart", () =>
      using(make, async ({ recent }) => {
        const a = newToken();
        const b = newToken();
        await recent.putMessages([message(a, 1, 1, "a1"), message(a, 2, 1, "a2"), message(b, 1, 1, "b1")]);
        await recent.putChats([chat(a, 1, "a chat"), chat(b, 1, "b chat")]);
        assert.deepEqual((await recent.listMessages(a, 1, 0, NO_UPPER, 50, false)).map((m) => m.body), ["a1"]);
        assert.deepEqual((await recent.listMessages(a, 2, 0, NO_UPPER, 50, true)).map((m) => m.body), ["a2"]);
        assert.deepEqual((await recent.listMessages(b, 1, 0, NO_UPPER, 50, false)).map((m) => m.body), ["b1"]);
        assert.equal((await recent.getChat(b, 1))?.name, "b chat");
        assert.deepEqual((await recent.listChats(a, 0, 50)).map((c) => c.name), ["a chat"]);
      }));
  });
}
