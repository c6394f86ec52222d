// Contract of the Store port (src/ports/store.ts), for every adapter.
//
// The factory must return a store whose schema exists; it may be shared with
// other tests (each test uses its own fresh application tokens and never
// assumes it is alone, except that counts it corrupts are its own).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Application, Chat, Message, WriteEvent } from "../../src/domain/types.js";
import type { Store } from "../../src/ports/store.js";
import { newToken, shuffled, using, type Cleanup } from "./contract-helpers.js";

export interface StoreFixture extends Cleanup {
  store: Store;
  /** Overwrites a stored count behind the port's back (the application's
   * chatsCount when `chat` is null, else that chat's messagesCount). */
  corruptCount(app: string, chat: number | null, value: number): Promise<void>;
}

const T0 = 1_700_000_000_000;

function application(token: string, name = "contract app"): Application {
  return { token, name, chatsCount: 0, createdAt: T0, updatedAt: T0 };
}

function chat(app: string, number: number, name: string | null, at: number, createdAt = at): Chat {
  return { app, number, name, messagesCount: 0, createdAt, updatedAt: at };
}

function message(app: string, chatNumber: number, number: number, body: string, at: number, createdAt = at): Message {
  return { app, chat: chatNumber, number, body, createdAt, updatedAt: at };
}

const chatCreated = (c: Chat): WriteEvent => ({ kind: "chat", created: true, chat: c });
const chatEdited = (c: Chat): WriteEvent => ({ kind: "chat", created: false, chat: c });
const messageCreated = (m: Message): WriteEvent => ({ kind: "message", created: true, message: m });
const messageEdited = (m: Message): WriteEvent => ({ kind: "message", created: false, message: m });

/** A small history: two chats, four messages, one rename, one edit. */
function history(app: string): { creates: WriteEvent[]; edits: WriteEvent[] } {
  return {
    creates: [
      chatCreated(chat(app, 1, "general", T0 + 1)),
      chatCreated(chat(app, 2, null, T0 + 2)),
      messageCreated(message(app, 1, 1, "first", T0 + 3)),
      messageCreated(message(app, 1, 2, "second", T0 + 4)),
      messageCreated(message(app, 1, 3, "third", T0 + 5)),
      messageCreated(message(app, 2, 1, "other chat", T0 + 6)),
    ],
    edits: [
      chatEdited(chat(app, 1, "renamed", T0 + 20, T0 + 1)),
      messageEdited(message(app, 1, 2, "second, edited", T0 + 21, T0 + 4)),
    ],
  };
}

/** Everything the store holds for one application, without its token (so two
 * applications fed the same history compare equal). */
async function snapshot(store: Store, app: string): Promise<unknown> {
  const application = await store.findApplication(app);
  assert.ok(application, "application exists");
  const chats = await store.listChats(app, 0, 200);
  const messages: Record<number, unknown[]> = {};
  for (const c of chats) {
    messages[c.number] = (await store.listMessages(app, c.number, { direction: "after", number: 0 }, 200)).map(({ app: _a, ...rest }) => rest);
  }
  return {
    chatsCount: application.chatsCount,
    chats: chats.map(({ app: _a, ...rest }) => rest),
    messages,
  };
}

async function created(store: Store, token = newToken()): Promise<string> {
  await store.insertApplication(application(token));
  return token;
}

export function storeContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    it("inserts, finds and renames applications by token", () =>
      using(make, async ({ store }) => {
        const token = newToken();
        await store.insertApplication(application(token, "first name"));
        assert.deepEqual(await store.findApplication(token), application(token, "first name"));
        assert.equal(await store.findApplication(newToken()), null);

        const renamed = await store.renameApplication(token, "second name", T0 + 500);
        assert.deepEqual(renamed, { token, name: "second name", chatsCount: 0, createdAt: T0, updatedAt: T0 + 500 });
        assert.deepEqual(await store.findApplication(token), renamed);
        assert.equal(await store.renameApplication(newToken(), "nobody", T0 + 500), null);
      }));

    it("rejects a second application with the same token", () =>
      using(make, async ({ store }) => {
        const token = await created(store);
        await assert.rejects(store.insertApplication(application(token, "impostor")));
        assert.equal((await store.findApplication(token))?.name, "contract app");
      }));

    it("lists applications by token, keyset after the given token", () =>
      using(make, async ({ store }) => {
        // Five tokens sharing a prefix no other test uses: any token sorting
        // between them starts with that prefix, so the pages hold only ours.
        const prefix = newToken().slice(0, 12);
        const tokens = ["0000000001", "0000000007", "00000000a0", "0000000b00", "ffffffffff"].map((s) => prefix + s);
        for (const token of shuffled(tokens, 7)) await store.insertApplication(application(token));

        const first = await store.listApplications(prefix, 2);
        assert.deepEqual(first.map((a) => a.token), tokens.slice(0, 2));
        assert.deepEqual(first[0], application(tokens[0]!));
        const second = await store.listApplications(tokens[1]!, 2);
        assert.deepEqual(second.map((a) => a.token), tokens.slice(2, 4));
        const third = await store.listApplications(tokens[3]!, 200);
        assert.equal(third[0]?.token, tokens[4]);
        assert.ok(third.every((a) => a.token > tokens[3]!), "keyset: only tokens after the cursor");
      }));

    it("applies created chats and messages with exact counts", () =>
      using(make, async ({ store }) => {
        const app = await created(store);
        await store.applyWrites(history(app).creates);

        assert.equal((await store.findApplication(app))?.chatsCount, 2);
        assert.deepEqual(await store.findChat(app, 1), { ...chat(app, 1, "general", T0 + 1), messagesCount: 3 });
        assert.deepEqual(await store.findChat(app, 2), { ...chat(app, 2, null, T0 + 2), messagesCount: 1 });
        assert.equal(await store.findChat(app, 3), null);
        assert.deepEqual(await store.findMessage(app, 1, 2), message(app, 1, 2, "second", T0 + 4));
        assert.deepEqual(await store.findMessage(app, 2, 1), message(app, 2, 1, "other chat", T0 + 6));
        assert.equal(await store.findMessage(app, 2, 2), null);
        assert.equal(await store.findMessage(app, 3, 1), null);
      }));

    it("is idempotent: the same events again, even split differently, change nothing", () =>
      using(make, async ({ store }) => {
        const app = await created(store);
        const { creates, edits } = history(app);
        await store.applyWrites([...creates, ...edits]);
        const once = await snapshot(store, app);
        await store.applyWrites([...creates, ...edits]);
        for (const event of [...creates, ...edits]) await store.applyWrites([event]);
        assert.deepEqual(await snapshot(store, app), once);
        assert.equal((once as { chatsCount: number }).chatsCount, 2);
      }));

    it("converges to the same rows and exact counts whatever the order of deliveries", () =>
      using(make, async ({ store }) => {
        // Creates in any order (messages may overtake their chat), each edit
        // after its own create, in batches of any size.
        const reference = await created(store);
        const ref = history(reference);
        await store.applyWrites([...ref.creates, ...ref.edits]);
        const expected = await snapshot(store, reference);
        assert.deepEqual(expected, {
          chatsCount: 2,
          chats: [
            { number: 1, name: "renamed", messagesCount: 3, createdAt: T0 + 1, updatedAt: T0 + 20 },
            { number: 2, name: null, messagesCount: 1, createdAt: T0 + 2, updatedAt: T0 + 2 },
          ],
          messages: {
            1: [
              { chat: 1, number: 1, body: "first", createdAt: T0 + 3, updatedAt: T0 + 3 },
              { chat: 1, number: 2, body: "second, edited", createdAt: T0 + 4, updatedAt: T0 + 21 },
              { chat: 1, number: 3, body: "third", createdAt: T0 + 5, updatedAt: T0 + 5 },
            ],
            2: [{ chat: 2, number: 1, body: "other chat", createdAt: T0 + 6, updatedAt: T0 + 6 }],
          },
        });

        for (const seed of [1, 2, 3]) {
          const app = await created(store);
          const { creates, edits } = history(app);
          const order = [...shuffled(creates, seed), ...shuffled(edits, seed)];
          const reversed = seed === 1 ? [...[...creates].reverse(), ...edits] : order;
          const batchSize = seed; // 1, 2, 3 events per delivery
          for (let i = 0; i < reversed.length; i += batchSize) await store.applyWrites(reversed.slice(i, i + batchSize));
          await store.applyWrites(shuffled(creates, seed + 10)); // a redelivery after the edits
          assert.deepEqual(await snapshot(store, app), expected, `delivery order ${seed}`);
        }
      }));

    it("counts a row once when its edit overtakes its create", () =>
      using(make, async ({ store }) => {
        const app = await created(store);
        const { creates, edits } = history(app);
        await store.applyWrites(edits);
        await store.applyWrites(creates);
        assert.equal((await store.findApplication(app))?.chatsCount, 2);
        assert.equal((await store.findChat(app, 1))?.messagesCount, 3);
        assert.equal((await store.findChat(app, 1))?.name, "renamed");
        assert.equal((await store.findMessage(app, 1, 2))?.body, "second, edited");
      }));

    it("keeps the fresher version: last writer wins by updatedAt", () =>
      using(make, async ({ store }) => {
        const app = await created(store);
        await store.applyWrites([chatCreated(chat(app, 1, "v1", T0 + 1)), messageCreated(message(app, 1, 1, "body v1", T0 + 2))]);
        await store.applyWrites([messageEdited(message(app, 1, 1, "body v3", T0 + 30, T0 + 2))]);
        await store.applyWrites([messageEdited(message(app, 1, 1, "body v2", T0 + 20, T0 + 2))]); // stale edit
        await store.applyWrites([messageCreated(message(app, 1, 1, "body v1", T0 + 2))]); // stale redelivery
        assert.deepEqual(await store.findMessage(app, 1, 1), message(app, 1, 1, "body v3", T0 + 30, T0 + 2));

        await store.applyWrites([chatEdited(chat(app, 1, "v3", T0 + 30, T0 + 1))]);
        await store.applyWrites([chatEdited(chat(app, 1, "v2", T0 + 20, T0 + 1))]);
        await store.applyWrites([chatCreated(chat(app, 1, "v1", T0 + 1))]);
        // A chat event's messagesCount is not the store's business: the count stays 1.
        await store.applyWrites([chatEdited({ ...chat(app, 1, "v4", T0 + 40, T0 + 1), messagesCount: 99 })]);
        assert.deepEqual(await store.findChat(app, 1), { ...chat(app, 1, "v4", T0 + 40, T0 + 1), messagesCount: 1 });
        assert.equal((await store.findApplication(app))?.chatsCount, 1);
      }));

    it("holds a message that overtook its chat under a placeholder the chat's own event fills in", () =>
      using(make, async ({ store }) => {
        const app = await created(store);
        await store.applyWrites([messageCreated(message(app, 7, 1, "early bird", T0 + 10)), messageCreated(message(app, 7, 2, "second", T0 + 11))]);
        const placeholder = await store.findChat(app, 7);
        assert.equal(placeholder?.name, null);
        assert.equal(placeholder?.messagesCount, 2);
        assert.equal(await store.maxChatNumber(app), 7);
        assert.equal((await store.findApplication(app))?.chatsCount, 1);
        assert.equal((await store.findMessage(app, 7, 1))?.body, "early bird");

        await store.applyWrites([chatCreated(chat(app, 7, "late chat", T0 + 5))]);
        assert.deepEqual(await store.findChat(app, 7), { ...chat(app, 7, "late chat", T0 + 5), messagesCount: 2 });
        assert.equal((await store.findApplication(app))?.chatsCount, 1);
      }));

    it("stores senders, and only for messages that have one", () =>
      using(make, async ({ store }) => {
        const app = await created(store);
        const signed = { ...message(app, 1, 1, "signed", T0 + 1), sender: { id: "alice", name: "Alice" } };
        const unnamed = { ...message(app, 1, 2, "unnamed", T0 + 2), sender: { id: "bob", name: null } };
        await store.applyWrites([chatCreated(chat(app, 1, null, T0)), messageCreated(signed), messageCreated(unnamed), messageCreated(message(app, 1, 3, "anonymous", T0 + 3))]);
        assert.deepEqual(await store.findMessage(app, 1, 1), signed);
        assert.deepEqual(await store.listMessages(app, 1, { direction: "after", number: 0 }, 10), [signed, unnamed, message(app, 1, 3, "anonymous", T0 + 3)]);
        await store.applyWrites([messageEdited({ ...signed, body: "signed, edited", updatedAt: T0 + 9 })]);
        assert.deepEqual(await store.findMessage(app, 1, 1), { ...signed, body: "signed, edited", updatedAt: T0 + 9 });
      }));

    it("keeps a deleted message as a tombstone: out of the count, its number taken, final against edits and redeliveries", () =>
      using(make, async ({ store }) => {
        const app = await created(store);
        const tombstone = (number: number, at: number, createdAt: number): Message => ({ app, chat: 1, number, body: "", createdAt, updatedAt: at, deleted: true });
        const deleted = (m: Message): WriteEvent => ({ kind: "message_deleted", message: m });
        const signed = { ...message(app, 1, 2, "doomed", T0 + 2), sender: { id: "alice", name: "Alice" } };
        await store.applyWrites([chatCreated(chat(app, 1, null, T0)), messageCreated(message(app, 1, 1, "kept", T0 + 1)), messageCreated(signed)]);
        await store.applyWrites([deleted(tombstone(2, T0 + 10, T0 + 2))]);
        assert.deepEqual(await store.findMessage(app, 1, 2), tombstone(2, T0 + 10, T0 + 2));
        assert.equal((await store.findChat(app, 1))?.messagesCount, 1);
        assert.equal(await store.maxMessageNumber(app, 1), 2, "the number stays taken");
        // Redelivered, edited later or re-created: still a tombstone, still one fewer.
        await store.applyWrites([deleted(tombstone(2, T0 + 10, T0 + 2)), messageEdited({ ...signed, body: "revived", updatedAt: T0 + 50 }), messageCreated(signed)]);
        assert.deepEqual(await store.findMessage(app, 1, 2), tombstone(2, T0 + 10, T0 + 2));
        assert.equal((await store.findChat(app, 1))?.messagesCount, 1);
        assert.deepEqual(
          (await store.listMessages(app, 1, { direction: "newest" }, 10)).map((m) => [m.number, m.deleted ?? false]),
          [[2, true], [1, false]],
          "pages hold the tombstone in its place (the domain leaves it out)",
        );

        // A deletion that overtakes its create; one created and deleted in one batch.
        await store.applyWrites([deleted(tombstone(3, T0 + 30, T0 + 3))]);
        await store.applyWrites([messageCreated(message(app, 1, 3, "too late", T0 + 3))]);
        await store.applyWrites([messageCreated(message(app, 1, 4, "brief", T0 + 4)), deleted(tombstone(4, T0 + 40, T0 + 4))]);
        assert.deepEqual(await store.findMessage(app, 1, 3), tombstone(3, T0 + 30, T0 + 3));
        assert.deepEqual(await store.findMessage(app, 1, 4), tombstone(4, T0 + 40, T0 + 4));
        assert.equal((await store.findChat(app, 1))?.messagesCount, 1);
        for (let cursor: string | null = null; ; ) {
          cursor = (await store.reconcileCounts(cursor, 500)).cursor;
          if (cursor === null) break;
        }
        assert.equal((await store.findChat(app, 1))?.messagesCount, 1, "the reconciler counts live messages only");
      }));

    it("keeps read markers forward only, whatever the order or repeats of their writes", () =>
      using(make, async ({ store }) => {
        const app = await created(store);
        const marked = (user: string, number: number, at: number, chatNumber = 1): WriteEvent => ({ kind: "read_marker", marker: { app, chat: chatNumber, user, number, updatedAt: at } });
        await store.applyWrites([chatCreated(chat(app, 1, null, T0))]);
        assert.equal(await store.findReadMarker(app, 1, "alice"), null);
        await store.applyWrites([marked("alice", 4, T0 + 1), marked("bob", 2, T0 + 2)]);
        await store.applyWrites([marked("alice", 9, T0 + 3), marked("alice", 6, T0 + 4)]);
        await store.applyWrites([marked("alice", 9, T0 + 3), marked("bob", 1, T0 + 5)]);
        assert.equal(await store.findReadMarker(app, 1, "alice"), 9);
        assert.equal(await store.findReadMarker(app, 1, "bob"), 2);
        assert.equal(await store.findReadMarker(app, 2, "alice"), null, "per chat");
        // A marker that overtook its chat's own event waits under the chat's placeholder.
        await store.applyWrites([marked("alice", 3, T0 + 6, 5)]);
        assert.equal(await store.findReadMarker(app, 5, "alice"), 3);
        assert.equal((await store.findChat(app, 5))?.name, null);
      }));

    it("counts the live messages in a range of numbers", () =>
      using(make, async ({ store }) => {
        const app = await created(store);
        await store.applyWrites([chatCreated(chat(app, 1, null, T0)), ...[1, 2, 3, 4, 5, 6].map((n) => messageCreated(message(app, 1, n, `m${n}`, T0 + n)))]);
        await store.applyWrites([{ kind: "message_deleted", message: { app, chat: 1, number: 3, body: "", createdAt: T0 + 3, updatedAt: T0 + 30, deleted: true } }]);
        assert.equal(await store.countMessages(app, 1, 0, Number.MAX_SAFE_INTEGER), 5);
        assert.equal(await store.countMessages(app, 1, 2, Number.MAX_SAFE_INTEGER), 3, "above 2: 4, 5, 6 (3 is deleted)");
        assert.equal(await store.countMessages(app, 1, 1, 5), 2, "2 and 4");
        assert.equal(await store.countMessages(app, 1, 6, Number.MAX_SAFE_INTEGER), 0);
        assert.equal(await store.countMessages(app, 2, 0, Number.MAX_SAFE_INTEGER), 0);
      }));

    it("pages chats by number, ascending after a keyset cursor", () =>
      using(make, async ({ store }) => {
        const app = await created(store);
        const numbers = [1, 2, 3, 5, 6, 8, 9]; // gaps: a keyset page skips them, an OFFSET page would not
        await store.applyWrites(shuffled(numbers, 3).map((n) => chatCreated(chat(app, n, `chat ${n}`, T0 + n))));
        const page = async (after: number, limit: number) => (await store.listChats(app, after, limit)).map((c) => c.number);
        assert.deepEqual(await page(0, 3), [1, 2, 3]);
        assert.deepEqual(await page(3, 3), [5, 6, 8]);
        assert.deepEqual(await page(8, 3), [9]);
        assert.deepEqual(await page(9, 3), []);
        assert.deepEqual(await page(4, 1), [5]);
        assert.deepEqual((await store.listChats(app, 4, 1))[0], chat(app, 5, "chat 5", T0 + 5));
        assert.deepEqual(await store.listChats(newToken(), 0, 10), []);
      }));

    it("pages messages after (ascending), before (descending) and newest first, with limits", () =>
      using(make, async ({ store }) => {
        const app = await created(store);
        const numbers = [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 14]; // gaps at 4 and 13
        await store.applyWrites([
          chatCreated(chat(app, 1, "c", T0)),
          ...shuffled(numbers, 5).map((n) => messageCreated(message(app, 1, n, `m${n}`, T0 + n))),
        ]);
        const page = async (range: Parameters<Store["listMessages"]>[2], limit: number) =>
          (await store.listMessages(app, 1, range, limit)).map((m) => m.number);

        assert.deepEqual(await page({ direction: "after", number: 0 }, 5), [1, 2, 3, 5, 6]);
        assert.deepEqual(await page({ direction: "after", number: 6 }, 5), [7, 8, 9, 10, 11]);
        assert.deepEqual(await page({ direction: "after", number: 11 }, 5), [12, 14]);
        assert.deepEqual(await page({ direction: "after", number: 14 }, 5), []);
        assert.deepEqual(await page({ direction: "after", number: 3 }, 1), [5]);

        assert.deepEqual(await page({ direction: "before", number: 15 }, 5), [14, 12, 11, 10, 9]);
        assert.deepEqual(await page({ direction: "before", number: 9 }, 5), [8, 7, 6, 5, 3]);
        assert.deepEqual(await page({ direction: "before", number: 3 }, 5), [2, 1]);
        assert.deepEqual(await page({ direction: "before", number: 1 }, 5), []);
        assert.deepEqual(await page({ direction: "before", number: 5 }, 1), [3]);

        assert.deepEqual(await page({ direction: "newest" }, 3), [14, 12, 11]);
        assert.deepEqual(await page({ direction: "newest" }, 200), [...numbers].reverse());

        assert.deepEqual((await store.listMessages(app, 1, { direction: "after", number: 4 }, 1))[0], message(app, 1, 5, "m5", T0 + 5));
      }));

    it("scopes every read to its application and chat", () =>
      using(make, async ({ store }) => {
        const a = await created(store);
        const b = await created(store);
        await store.applyWrites([
          chatCreated(chat(a, 1, "a1", T0)),
          chatCreated(chat(a, 2, "a2", T0)),
          chatCreated(chat(b, 1, "b1", T0)),
          messageCreated(message(a, 1, 1, "a1m1", T0)),
          messageCreated(message(a, 2, 1, "a2m1", T0)),
          messageCreated(message(a, 2, 2, "a2m2", T0)),
          messageCreated(message(b, 1, 1, "b1m1", T0)),
        ]);
        assert.deepEqual((await store.listMessages(a, 1, { direction: "newest" }, 50)).map((m) => m.body), ["a1m1"]);
        assert.deepEqual((await store.listMessages(a, 2, { direction: "after", number: 0 }, 50)).map((m) => m.body), ["a2m1", "a2m2"]);
        assert.deepEqual((await store.listMessages(b, 1, { direction: "before", number: 100 }, 50)).map((m) => m.body), ["b1m1"]);
        assert.deepEqual((await store.listChats(b, 0, 50)).map((c) => c.name), ["b1"]);
        assert.equal((await store.findMessage(b, 2, 1)), null);
        assert.equal((await store.findApplication(a))?.chatsCount, 2);
        assert.equal((await store.findApplication(b))?.chatsCount, 1);
        assert.equal(await store.maxMessageNumber(b, 1), 1);
        assert.equal(await store.maxMessageNumber(a, 2), 2);
      }));

    it("reports the highest persisted numbers, null when there are none", () =>
      using(make, async ({ store }) => {
        const app = await created(store);
        assert.equal(await store.maxChatNumber(app), null);
        assert.equal(await store.maxMessageNumber(app, 1), null);
        assert.equal(await store.maxChatNumber(newToken()), null);
        await store.applyWrites([
          chatCreated(chat(app, 3, null, T0)),
          chatCreated(chat(app, 1, null, T0)),
          messageCreated(message(app, 3, 9, "nine", T0)),
          messageCreated(message(app, 3, 4, "four", T0)),
        ]);
        assert.equal(await store.maxChatNumber(app), 3);
        assert.equal(await store.maxMessageNumber(app, 3), 9);
        assert.equal(await store.maxMessageNumber(app, 1), null);
      }));

    it("reconcileCounts sweeps every slice and repairs drifted counts from the rows", () =>
      using(make, async ({ store, corruptCount }) => {
        const app = await created(store);
        await store.applyWrites(history(app).creates);
        await corruptCount(app, null, 99);
        await corruptCount(app, 1, 42);
        assert.equal((await store.findApplication(app))?.chatsCount, 99, "the hook corrupted the count");
        assert.equal((await store.findChat(app, 1))?.messagesCount, 42, "the hook corrupted the count");

        let cursor: string | null = null;
        let repaired = 0;
        let slices = 0;
        do {
          const result: { cursor: string | null; repaired: number } = await store.reconcileCounts(cursor, 2);
          cursor = result.cursor;
          repaired += result.repaired;
          slices += 1;
          assert.ok(slices < 100_000, "the sweep ends");
        } while (cursor !== null);

        assert.ok(slices > 1, "batch 2 takes several slices");
        assert.ok(repaired >= 2, `repaired ${repaired}`);
        assert.equal((await store.findApplication(app))?.chatsCount, 2);
        assert.equal((await store.findChat(app, 1))?.messagesCount, 3);
        assert.equal((await store.findChat(app, 2))?.messagesCount, 1);
      }));

    it("scans every message once, in (chat, number) order within an application", () =>
      using(make, async ({ store }) => {
        const a = await created(store);
        const b = await created(store);
        const expected = new Map<string, string[]>([
          [a, ["1/1", "1/2", "1/3", "2/1", "2/2"]],
          [b, ["1/1", "1/2"]],
        ]);
        const events: WriteEvent[] = [];
        for (const [app, keys] of expected) {
          for (const key of keys) {
            const [c, n] = key.split("/").map(Number) as [number, number];
            events.push(messageCreated(message(app, c, n, `${app} ${key}`, T0 + n)));
          }
        }
        await store.applyWrites(shuffled(events, 11));

        const seen = new Map<string, string[]>([[a, []], [b, []]]);
        let after: Message | null = null;
        for (let pages = 0; ; pages++) {
          assert.ok(pages < 1_000_000, "the scan ends");
          const page: Message[] = await store.scanMessages(after && { app: after.app, chat: after.chat, number: after.number }, 2);
          assert.ok(page.length <= 2);
          if (page.length === 0) break;
          for (const m of page) {
            seen.get(m.app)?.push(`${m.chat}/${m.number}`);
            if (m.app === a || m.app === b) assert.equal(m.body, `${m.app} ${m.chat}/${m.number}`);
          }
          after = page[page.length - 1]!;
        }
        assert.deepEqual(seen, expected);
      }));

    it("hands out copies and keeps its own: mutating results or events changes nothing stored", () =>
      using(make, async ({ store }) => {
        const app = await created(store);
        const events = history(app).creates;
        await store.applyWrites(events);
        for (const event of events) {
          if (event.kind === "chat") event.chat.name = "mutated";
          else if (event.kind === "message") event.message.body = "mutated";
        }
        const found = await store.findMessage(app, 1, 1);
        found!.body = "mutated";
        const listed = await store.listChats(app, 0, 10);
        listed[0]!.name = "mutated";
        const application = await store.findApplication(app);
        application!.chatsCount = 1000;

        assert.equal((await store.findMessage(app, 1, 1))?.body, "first");
        assert.equal((await store.findChat(app, 1))?.name, "general");
        assert.equal((await store.findApplication(app))?.chatsCount, 2);
      }));
  });
}
