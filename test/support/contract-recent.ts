// Contract of the RecentChats port (src/ports/recent-chats.ts), for every
// adapter. The factory says how many chats per application its window keeps
// (5 to 100). Messages have their chat log: contract-chat-log.ts.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Chat } from "../../src/domain/types.js";
import type { RecentChats } from "../../src/ports/recent-chats.js";
import { newToken, shuffled, using, type Cleanup } from "./contract-helpers.js";

export interface RecentChatsFixture extends Cleanup {
  recentChats: RecentChats;
  /** Chats kept per application. */
  maxPerApp: number;
}

const T0 = 1_700_000_000_000;

function chat(app: string, number: number, name: string | null = `c${number}`, at = T0 + number): Chat {
  return { app, number, name, messagesCount: 0, createdAt: T0 + number, updatedAt: at };
}

const numbers = (items: { number: number }[]): number[] => items.map((i) => i.number);

export function recentChatsContract(name: string, make: () => Promise<RecentChatsFixture>): void {
  describe(`RecentChats contract: ${name}`, () => {
    it("returns what was put, and null for what was not", () =>
      using(make, async ({ recentChats }) => {
        const app = newToken();
        await recentChats.putChats([chat(app, 1, null), chat(app, 2, "named ✓ 👋"), { ...chat(app, 3, ""), messagesCount: 12 }]);
        assert.deepEqual(await recentChats.getChat(app, 1), chat(app, 1, null));
        assert.deepEqual(await recentChats.getChat(app, 2), chat(app, 2, "named ✓ 👋"));
        assert.deepEqual(await recentChats.getChat(app, 3), { ...chat(app, 3, ""), messagesCount: 12 });
        assert.equal(await recentChats.getChat(app, 4), null);
        assert.equal(await recentChats.getChat(newToken(), 1), null);
        assert.deepEqual(await recentChats.listChats(newToken(), 0, 50), []);
        await recentChats.putChats([]);
      }));

    it("lists chats after a number, ascending, up to limit", () =>
      using(make, async ({ recentChats }) => {
        const app = newToken();
        await recentChats.putChats(shuffled([1, 2, 3, 5, 8].map((n) => chat(app, n)), 2));
        assert.deepEqual(numbers(await recentChats.listChats(app, 0, 50)), [1, 2, 3, 5, 8]);
        assert.deepEqual(numbers(await recentChats.listChats(app, 2, 2)), [3, 5]);
        assert.deepEqual(numbers(await recentChats.listChats(app, 5, 50)), [8]);
        assert.deepEqual(await recentChats.listChats(app, 8, 50), []);
        assert.deepEqual((await recentChats.listChats(app, 4, 1))[0], chat(app, 5));
      }));

    it("never lets a put replace a fresher version", () =>
      using(make, async ({ recentChats }) => {
        const app = newToken();
        await recentChats.putChats([chat(app, 1, "first name", T0 + 1)]);
        await recentChats.putChats([chat(app, 1, "new name", T0 + 30)]);
        assert.equal((await recentChats.getChat(app, 1))?.name, "new name", "a fresher version replaces");
        await recentChats.putChats([chat(app, 1, "old name", T0 + 20)]);
        assert.equal((await recentChats.getChat(app, 1))?.name, "new name", "a stale version does not");
        assert.deepEqual((await recentChats.listChats(app, 0, 50)).map((c) => c.name), ["new name"]);
      }));

    it("keeps the newest chats past its per-application cap", () =>
      using(make, async ({ recentChats, maxPerApp }) => {
        assert.ok(maxPerApp >= 5 && maxPerApp <= 100, "the fixture's cap is testable");
        const app = newToken();
        const total = maxPerApp + 5;
        await recentChats.putChats(Array.from({ length: total }, (_, i) => chat(app, i + 1)));
        assert.deepEqual(numbers(await recentChats.listChats(app, 0, 1000)), Array.from({ length: maxPerApp }, (_, i) => i + 6));
        assert.equal(await recentChats.getChat(app, 5), null);
        assert.deepEqual(await recentChats.getChat(app, total), chat(app, total));

        const other = newToken();
        for (let n = 1; n <= total; n++) await recentChats.putChats([chat(other, n)]);
        assert.deepEqual(numbers(await recentChats.listChats(other, 0, 1000)), Array.from({ length: maxPerApp }, (_, i) => i + 6), "one put at a time");
      }));

    it("keeps applications apart", () =>
      using(make, async ({ recentChats }) => {
        const a = newToken();
        const b = newToken();
        await recentChats.putChats([chat(a, 1, "a chat"), chat(b, 1, "b chat"), chat(b, 2, "b two")]);
        assert.equal((await recentChats.getChat(a, 1))?.name, "a chat");
        assert.equal((await recentChats.getChat(b, 1))?.name, "b chat");
        assert.deepEqual((await recentChats.listChats(a, 0, 50)).map((c) => c.name), ["a chat"]);
        assert.deepEqual((await recentChats.listChats(b, 0, 50)).map((c) => c.name), ["b chat", "b two"]);
      }));
  });
}
