// Contract of the ChatLog port (src/ports/chat-log.ts), for every adapter.
//
// The factory returns a chat log with the sequencer it shares its backend
// with (chats are created by `sequencer.allocateChats`, which starts each new
// chat's message counter at 0), both in normal operation and in a namespace of
// their own, plus a Bus on that backend to watch the live frames every append
// and edit publish on chatChannel(app, chat). `loseState` wipes the namespace
// the way a Redis restarting empty would.
//
// Nothing sleeps: "no further frame" is checked by appending a marker and
// waiting for its frame, since one chat's frames arrive in publish order.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chatChannel, decodeLiveBatch, type LiveBatch } from "../../src/domain/live-batch.js";
import type { Message } from "../../src/domain/types.js";
import type { Bus } from "../../src/ports/bus.js";
import type { Append, ChatLog, Send, SendOutcome } from "../../src/ports/chat-log.js";
import type { Sequencer } from "../../src/ports/sequencer.js";
import { endFence, newToken, shuffled, using, waitFor, type Cleanup } from "./contract-helpers.js";

export interface ChatLogFixture extends Cleanup {
  sequencer: Sequencer;
  chatLog: ChatLog;
  /** A bus on the chat log's backend, to subscribe to chat channels. */
  bus: Bus;
  /** Forgets every counter, key, entry and the epoch marker of this fixture's namespace. */
  loseState(): Promise<void>;
  /** Entries the log keeps per chat (5 to 100). */
  maxPerChat: number;
}

const T0 = 1_700_000_000_000;
const NO_UPPER = Number.MAX_SAFE_INTEGER;

const sends = (...bodies: string[]): Send[] => bodies.map((body) => ({ body, key: null }));
const numbers = (items: { number: number }[]): number[] => items.map((i) => i.number);
const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

function message(app: string, chat: number, number: number, body: string, at: number, updatedAt = at): Message {
  return { app, chat, number, body, createdAt: at, updatedAt };
}

function outcomes(result: Append): SendOutcome[] {
  assert.equal(result.status, "ok", `expected an append, got ${JSON.stringify(result)}`);
  return (result as { outcomes: SendOutcome[] }).outcomes;
}

/** The messages of an append that created every send. */
function created(result: Append): Message[] {
  return outcomes(result).map((o) => {
    assert.equal(o.kind, "created", JSON.stringify(o));
    return (o as { message: Message }).message;
  });
}

/** A new application with `chats` chats, as the service creates them. */
async function application(sequencer: Sequencer, chats: number): Promise<string> {
  const app = newToken();
  await sequencer.initApplication(app);
  if (chats > 0) {
    const allocation = await sequencer.allocateChats(app, Array.from({ length: chats }, () => ({ name: null, key: null })), T0);
    assert.equal(allocation.status, "ok", JSON.stringify(allocation));
  }
  return app;
}

/** Appends `count` messages to a chat, `perBatch` at a time, at T0 + n; returns the created ones. */
async function fill(chatLog: ChatLog, app: string, chat: number, count: number, perBatch = 1): Promise<Message[]> {
  const all: Message[] = [];
  while (all.length < count) {
    const n = Math.min(perBatch, count - all.length);
    const bodies = range(all.length + 1, n).map((k) => `m${k}`);
    all.push(...created(await chatLog.append(app, chat, sends(...bodies), T0 + all.length + 1)));
  }
  return all;
}

/** The frames of one chat's channel, decoded (null for a frame that does not decode). */
interface Watch {
  frames: (LiveBatch | null)[];
  /** Appends a marker message and waits for its frame: every frame published before it has arrived. */
  settle(): Promise<Message>;
  /** The frames before the last settle's marker. */
  before(): (LiveBatch | null)[];
}

async function watch(bus: Bus, chatLog: ChatLog, app: string, chat: number): Promise<Watch> {
  const channel = chatChannel(app, chat);
  const frames: (LiveBatch | null)[] = [];
  bus.onMessage((name, payload) => {
    if (name === channel) frames.push(decodeLiveBatch(app, chat, payload));
  });
  await bus.subscribe(channel);
  let markerAt = -1;
  return {
    frames,
    async settle() {
      const [marker] = created(await chatLog.append(app, chat, sends(`marker ${newToken()}`), T0 + 999_999));
      await waitFor(() => frames.some((f) => f?.messages.some((m) => m.body === marker!.body)), { what: `the marker's frame on ${channel}` });
      markerAt = frames.findIndex((f) => f?.messages.some((m) => m.body === marker!.body));
      assert.deepEqual(frames[markerAt], { kind: "created", messages: [marker] }, "the marker's frame");
      return marker!;
    },
    before: () => frames.slice(0, markerAt),
  };
}

export function chatLogContract(name: string, make: () => Promise<ChatLogFixture>): void {
  describe(`ChatLog contract: ${name}`, () => {
    it("numbers messages 1, 2, 3 … per chat, independently across chats and applications, a batch consecutive", () =>
      using(make, async ({ sequencer, chatLog }) => {
        const a = await application(sequencer, 2);
        const b = await application(sequencer, 1);
        assert.deepEqual(numbers(created(await chatLog.append(a, 1, sends("x"), T0))), [1]);
        assert.deepEqual(numbers(created(await chatLog.append(a, 1, sends("x", "y", "z", "w"), T0))), [2, 3, 4, 5]);
        assert.deepEqual(numbers(created(await chatLog.append(a, 2, sends("x"), T0))), [1]);
        assert.deepEqual(numbers(created(await chatLog.append(b, 1, sends("x", "y"), T0))), [1, 2]);
        assert.deepEqual(numbers(created(await chatLog.append(a, 1, sends("x"), T0))), [6]);
        assert.deepEqual(numbers(created(await chatLog.append(b, 1, sends("x"), T0))), [3]);
        assert.deepEqual(outcomes(await chatLog.append(a, 2, [], T0)), [], "an empty batch is ok and takes no number");
        assert.deepEqual(numbers(created(await chatLog.append(a, 2, sends("x"), T0))), [2]);
      }));

    it("answers each send with the whole message as created", () =>
      using(make, async ({ sequencer, chatLog }) => {
        const app = await application(sequencer, 1);
        assert.deepEqual(outcomes(await chatLog.append(app, 1, sends("hello ✓ 👋", ""), T0 + 5)), [
          { kind: "created", message: message(app, 1, 1, "hello ✓ 👋", T0 + 5) },
          { kind: "created", message: message(app, 1, 2, "", T0 + 5) },
        ]);
      }));

    it("answers not_found for a chat beyond the application's chat counter", () =>
      using(make, async ({ sequencer, chatLog }) => {
        const app = await application(sequencer, 0);
        assert.deepEqual(await chatLog.append(app, 1, sends("x"), T0), { status: "not_found" }, "no chat yet");
        assert.equal((await sequencer.allocateChats(app, [{ name: null, key: null }, { name: null, key: null }], T0)).status, "ok");
        assert.deepEqual(await chatLog.append(app, 3, sends("x"), T0), { status: "not_found" });
        assert.deepEqual(await chatLog.append(app, 4_000_000_000, sends("x"), T0), { status: "not_found" });
        assert.deepEqual(numbers(created(await chatLog.append(app, 2, sends("x"), T0))), [1], "a new chat starts at 1");
        assert.equal(await chatLog.head(app, 3), 0);
      }));

    it("answers needs_seed for a chat whose counter is missing, and counts on from a seed", () =>
      using(make, async ({ sequencer, chatLog }) => {
        assert.deepEqual(await chatLog.append(newToken(), 1, sends("x"), T0), { status: "needs_seed" }, "an application the sequencer does not know");

        // The store knows 4 chats; the sequencer holds the chat counter only.
        const app = newToken();
        await sequencer.seed(app, 4);
        assert.deepEqual(await chatLog.append(app, 3, sends("x"), T0), { status: "needs_seed" }, "a lost message counter is never taken for a new chat's zero");
        assert.deepEqual(await chatLog.append(app, 5, sends("x"), T0), { status: "not_found" });
        await chatLog.seed(app, 3, 8);
        assert.equal(await chatLog.head(app, 3), 8);
        assert.deepEqual(numbers(created(await chatLog.append(app, 3, sends("x", "y"), T0))), [9, 10]);
        assert.equal((await sequencer.allocateChats(app, [{ name: null, key: null }], T0)).status, "ok");
        assert.deepEqual(numbers(created(await chatLog.append(app, 5, sends("x"), T0))), [1], "chat 5 was created after the seed");
      }));

    it("hands out unique, gap-free numbers under 200 concurrent appends, each batch consecutive and published in number order", () =>
      using(make, async ({ sequencer, chatLog, bus }) => {
        const app = await application(sequencer, 1);
        const live = await watch(bus, chatLog, app, 1);
        const counts = Array.from({ length: 200 }, (_, i) => 1 + (i % 3));
        const batches = (await Promise.all(counts.map((n, i) => chatLog.append(app, 1, sends(...range(1, n).map((k) => `b${i}.${k}`)), T0 + i)))).map(created);
        batches.forEach((batch, i) => {
          assert.equal(batch.length, counts[i]);
          assert.deepEqual(numbers(batch), range(batch[0]!.number, batch.length), "a batch is one consecutive range");
        });
        const total = counts.reduce((s, n) => s + n, 0);
        assert.deepEqual(numbers(batches.flat()).sort((x, y) => x - y), range(1, total));
        assert.equal(await chatLog.head(app, 1), total);

        const marker = await live.settle();
        assert.equal(marker.number, total + 1);
        const frames = live.before();
        assert.equal(frames.length, 200, "one frame per append");
        assert.deepEqual(numbers(frames.flatMap((f) => f?.messages ?? [])), range(1, total), "frames arrive in number order");
        const byFirst = new Map(batches.map((batch) => [batch[0]!.number, batch]));
        for (const frame of frames) assert.deepEqual(frame, { kind: "created", messages: byFirst.get(frame!.messages[0]!.number) });
      }));

    it("publishes each append as exactly one created frame, its messages in number order", () =>
      using(make, async ({ sequencer, chatLog, bus }) => {
        const app = await application(sequencer, 2);
        const live = await watch(bus, chatLog, app, 1);
        const other = await watch(bus, chatLog, app, 2);
        const first = created(await chatLog.append(app, 1, sends("one"), T0 + 1));
        const batch = created(await chatLog.append(app, 1, sends("two", "three ✓", "four"), T0 + 2));
        created(await chatLog.append(app, 2, sends("elsewhere"), T0 + 3));
        await live.settle();
        assert.deepEqual(live.before(), [
          { kind: "created", messages: first },
          { kind: "created", messages: batch },
        ]);
        await other.settle();
        assert.deepEqual(numbers(other.before().flatMap((f) => f?.messages ?? [])), [1], "chat 2's channel carries chat 2 only");
      }));

    it("remembers idempotency keys per chat: a repeat answers the original and publishes nothing, a different body conflicts", () =>
      using(make, async ({ sequencer, chatLog, bus }) => {
        const app = await application(sequencer, 2);
        const live = await watch(bus, chatLog, app, 1);
        const [original] = created(await chatLog.append(app, 1, [{ body: "hi", key: "k1" }], T0 + 1));
        assert.deepEqual(original, message(app, 1, 1, "hi", T0 + 1));
        assert.deepEqual(outcomes(await chatLog.append(app, 1, [{ body: "hi", key: "k1" }], T0 + 50)), [{ kind: "repeat", message: original }]);
        assert.deepEqual(outcomes(await chatLog.append(app, 1, [{ body: "hi!", key: "k1" }], T0 + 51)), [{ kind: "conflict" }]);
        assert.deepEqual(outcomes(await chatLog.append(app, 1, [{ body: "hi", key: "k1" }], T0 + 52)), [{ kind: "repeat", message: original }], "a conflict forgets nothing");

        // Mixed with new sends: only those take numbers, in order.
        const mixed = outcomes(
          await chatLog.append(
            app,
            1,
            [
              { body: "new", key: null },
              { body: "hi", key: "k1" },
              { body: "keyed", key: "k2" },
            ],
            T0 + 60,
          ),
        );
        assert.deepEqual(mixed, [
          { kind: "created", message: message(app, 1, 2, "new", T0 + 60) },
          { kind: "repeat", message: original },
          { kind: "created", message: message(app, 1, 3, "keyed", T0 + 60) },
        ]);

        // The same key in another chat or application is another key.
        assert.deepEqual(numbers(created(await chatLog.append(app, 2, [{ body: "something else", key: "k1" }], T0))), [1]);
        const b = await application(sequencer, 1);
        assert.deepEqual(numbers(created(await chatLog.append(b, 1, [{ body: "hi", key: "k1" }], T0))), [1]);

        assert.equal(await chatLog.head(app, 1), 3, "repeats and conflicts took no number");
        assert.equal((await chatLog.getMessage(app, 1, 1))?.body, "hi");
        await live.settle();
        assert.deepEqual(live.before(), [
          { kind: "created", messages: [original] },
          { kind: "created", messages: [message(app, 1, 2, "new", T0 + 60), message(app, 1, 3, "keyed", T0 + 60)] },
        ]);
      }));

    it("treats a key twice in one batch as the second a repeat (or conflict) of the first", () =>
      using(make, async ({ sequencer, chatLog, bus }) => {
        const app = await application(sequencer, 1);
        const live = await watch(bus, chatLog, app, 1);
        const first = message(app, 1, 1, "same", T0 + 3);
        assert.deepEqual(
          outcomes(
            await chatLog.append(
              app,
              1,
              [
                { body: "same", key: "twice" },
                { body: "same", key: "twice" },
                { body: "other", key: "twice" },
                { body: "same", key: null },
              ],
              T0 + 3,
            ),
          ),
          [{ kind: "created", message: first }, { kind: "repeat", message: first }, { kind: "conflict" }, { kind: "created", message: message(app, 1, 2, "same", T0 + 3) }],
        );
        await live.settle();
        assert.deepEqual(live.before(), [{ kind: "created", messages: [first, message(app, 1, 2, "same", T0 + 3)] }]);
      }));

    it("makes appended entries readable at once, and null what was not appended", () =>
      using(make, async ({ sequencer, chatLog }) => {
        const app = await application(sequencer, 2);
        const [hello, second] = created(await chatLog.append(app, 1, sends("hello ✓ 👋", "m2"), T0 + 1));
        assert.deepEqual(await chatLog.getMessage(app, 1, 1), hello);
        assert.deepEqual(await chatLog.getMessage(app, 1, 2), second);
        assert.deepEqual(hello, message(app, 1, 1, "hello ✓ 👋", T0 + 1));
        assert.equal(await chatLog.getMessage(app, 1, 3), null);
        assert.equal(await chatLog.getMessage(app, 2, 1), null);
        assert.equal(await chatLog.getMessage(newToken(), 1, 1), null);
        assert.deepEqual(await chatLog.listMessages(app, 2, 0, NO_UPPER, 50, false), []);
        assert.deepEqual(await chatLog.listMessages(newToken(), 1, 0, NO_UPPER, 50, true), []);
      }));

    it("lists messages strictly between after and before, ascending or descending, up to limit", () =>
      using(make, async ({ sequencer, chatLog }) => {
        const app = await application(sequencer, 1);
        const all = await fill(chatLog, app, 1, 10, 3);
        assert.deepEqual(numbers(await chatLog.listMessages(app, 1, 2, 8, 50, false)), [3, 4, 5, 6, 7]);
        assert.deepEqual(numbers(await chatLog.listMessages(app, 1, 2, 8, 50, true)), [7, 6, 5, 4, 3]);
        assert.deepEqual(numbers(await chatLog.listMessages(app, 1, 2, 8, 2, false)), [3, 4]);
        assert.deepEqual(numbers(await chatLog.listMessages(app, 1, 2, 8, 2, true)), [7, 6]);
        assert.deepEqual(numbers(await chatLog.listMessages(app, 1, 0, NO_UPPER, 3, true)), [10, 9, 8]);
        assert.deepEqual(numbers(await chatLog.listMessages(app, 1, 7, NO_UPPER, 50, false)), [8, 9, 10]);
        assert.deepEqual(numbers(await chatLog.listMessages(app, 1, 0, 4, 50, true)), [3, 2, 1]);
        assert.deepEqual(await chatLog.listMessages(app, 1, 10, NO_UPPER, 50, false), []);
        assert.deepEqual((await chatLog.listMessages(app, 1, 4, 6, 50, false))[0], all[4]);
        assert.deepEqual(await chatLog.listMessages(app, 1, 0, NO_UPPER, 50, false), all);
      }));

    it("keeps the newest maxPerChat numbers of a chat", () =>
      using(make, async ({ sequencer, chatLog, maxPerChat }) => {
        assert.ok(maxPerChat >= 5 && maxPerChat <= 100, "the fixture's cap is testable");
        const app = await application(sequencer, 2);
        const total = maxPerChat + 5;
        const all = await fill(chatLog, app, 1, total, 2);
        assert.deepEqual(numbers(await chatLog.listMessages(app, 1, 0, NO_UPPER, 1000, false)), range(6, maxPerChat));
        assert.equal(await chatLog.getMessage(app, 1, 5), null);
        assert.deepEqual(await chatLog.getMessage(app, 1, total), all[total - 1]);
        assert.equal(await chatLog.head(app, 1), total, "trimming the window keeps the counter");

        // One batch larger than the window: its newest numbers stay.
        const batch = created(await chatLog.append(app, 2, sends(...range(1, total).map((k) => `b${k}`)), T0));
        assert.deepEqual(numbers(await chatLog.listMessages(app, 2, 0, NO_UPPER, 1000, true)), range(6, maxPerChat).reverse());
        assert.deepEqual(await chatLog.getMessage(app, 2, total), batch[total - 1]);
      }));

    it("keeps applications and chats apart", () =>
      using(make, async ({ sequencer, chatLog }) => {
        const a = await application(sequencer, 2);
        const b = await application(sequencer, 1);
        await chatLog.append(a, 1, sends("a1"), T0);
        await chatLog.append(a, 2, sends("a2"), T0);
        await chatLog.append(b, 1, sends("b1"), T0);
        assert.deepEqual((await chatLog.listMessages(a, 1, 0, NO_UPPER, 50, false)).map((m) => m.body), ["a1"]);
        assert.deepEqual((await chatLog.listMessages(a, 2, 0, NO_UPPER, 50, true)).map((m) => m.body), ["a2"]);
        assert.deepEqual((await chatLog.listMessages(b, 1, 0, NO_UPPER, 50, false)).map((m) => m.body), ["b1"]);
        assert.equal((await chatLog.getMessage(b, 1, 1))?.body, "b1");
      }));

    it("never lets an edit replace a fresher version, and publishes each edit it puts as an updated frame", () =>
      using(make, async ({ sequencer, chatLog, bus }) => {
        const app = await application(sequencer, 1);
        const live = await watch(bus, chatLog, app, 1);
        const [original, neighbour] = created(await chatLog.append(app, 1, sends("v1", "untouched"), T0 + 1));
        const v3 = { ...original!, body: "v3 ✓", updatedAt: T0 + 30 };
        const v2 = { ...original!, body: "v2", updatedAt: T0 + 20 };
        await chatLog.edit(v3);
        assert.deepEqual(await chatLog.getMessage(app, 1, 1), v3, "a fresher version replaces");
        await chatLog.edit(v2);
        assert.deepEqual(await chatLog.getMessage(app, 1, 1), v3, "a stale version does not");
        assert.deepEqual(await chatLog.listMessages(app, 1, 0, NO_UPPER, 50, false), [v3, neighbour]);
        assert.equal(await chatLog.head(app, 1), 2, "an edit takes no number");

        await live.settle();
        // The stale edit was not put, so subscribers never see it either.
        assert.deepEqual(live.before(), [
          { kind: "created", messages: [original, neighbour] },
          { kind: "updated", messages: [v3] },
        ]);
      }));

    it("settles edits of many messages last-writer-wins, whatever their order", () =>
      using(make, async ({ sequencer, chatLog }) => {
        const app = await application(sequencer, 1);
        const all = await fill(chatLog, app, 1, 5, 5);
        const versions = all.flatMap((m) => [1, 2, 3].map((v) => ({ ...m, body: `${m.body} v${v}`, updatedAt: m.updatedAt + v * 10 })));
        for (const edit of shuffled(versions, 7)) await chatLog.edit(edit);
        assert.deepEqual(
          (await chatLog.listMessages(app, 1, 0, NO_UPPER, 50, false)).map((m) => m.body),
          all.map((m) => `${m.body} v3`),
        );
      }));

    it("keeps each send's sender in its entry and its frame; senderless sends stay anonymous", () =>
      using(make, async ({ sequencer, chatLog, bus }) => {
        const app = await application(sequencer, 1);
        const live = await watch(bus, chatLog, app, 1);
        const alice = { id: "alice", name: "Alice ✓" };
        const anonymous = { id: "u-42", name: null };
        const batch = created(await chatLog.append(app, 1, [{ body: "hi", key: null, sender: alice }, { body: "anon", key: null }, { body: "no name", key: null, sender: anonymous }], T0));
        assert.deepEqual(batch.map((m) => m.sender), [alice, undefined, anonymous]);
        assert.deepEqual(await chatLog.getMessage(app, 1, 1), batch[0]);
        assert.equal("sender" in (await chatLog.getMessage(app, 1, 2))!, false, "no sender field for an anonymous message");
        assert.deepEqual(await chatLog.listMessages(app, 1, 0, NO_UPPER, 50, false), batch);
        const edited = { ...batch[0]!, body: "hi, edited", updatedAt: T0 + 5 };
        await chatLog.edit(edited);
        assert.deepEqual(await chatLog.getMessage(app, 1, 1), edited, "an edit keeps the sender");
        await live.settle();
        assert.deepEqual(live.before(), [
          { kind: "created", messages: batch },
          { kind: "updated", messages: [edited] },
        ]);
      }));

    it("puts a tombstone that no edit replaces, publishes the deletion, and keeps the number taken", () =>
      using(make, async ({ sequencer, chatLog, bus }) => {
        const app = await application(sequencer, 1);
        const live = await watch(bus, chatLog, app, 1);
        const [first, doomed, third] = created(await chatLog.append(app, 1, [...sends("one"), { body: "two", key: null, sender: { id: "u", name: "U" } }, ...sends("three")], T0));
        const tombstone: Message = { app, chat: 1, number: doomed!.number, body: "", createdAt: doomed!.createdAt, updatedAt: T0 + 10, deleted: true };
        await chatLog.delete(tombstone);
        assert.deepEqual(await chatLog.getMessage(app, 1, 2), tombstone);
        assert.deepEqual(await chatLog.listMessages(app, 1, 0, NO_UPPER, 50, false), [first, tombstone, third], "in range reads, the tombstone holds its place");
        await chatLog.edit({ ...doomed!, body: "revived?", updatedAt: T0 + 99 });
        assert.deepEqual(await chatLog.getMessage(app, 1, 2), tombstone, "a deletion is final, even against a fresher edit");
        await chatLog.delete({ ...tombstone, updatedAt: T0 + 5 });
        assert.deepEqual(await chatLog.getMessage(app, 1, 2), tombstone, "an older tombstone changes nothing");
        assert.deepEqual(numbers(created(await chatLog.append(app, 1, sends("four"), T0 + 20))), [4], "the number is not reused");
        const marker = await live.settle();
        assert.deepEqual(live.before(), [
          { kind: "created", messages: [first, doomed, third] },
          { kind: "deleted", messages: [tombstone] },
          { kind: "created", messages: [{ ...message(app, 1, 4, "four", T0 + 20) }] },
        ]);
        assert.equal(marker.number, 5);
      }));

    it("head is the highest number handed out, and 0 for a chat without messages", () =>
      using(make, async ({ sequencer, chatLog }) => {
        const app = await application(sequencer, 2);
        assert.equal(await chatLog.head(app, 1), 0);
        assert.equal(await chatLog.head(newToken(), 1), 0);
        await chatLog.append(app, 1, sends("a", "b", "c"), T0);
        assert.equal(await chatLog.head(app, 1), 3);
        await chatLog.append(app, 1, [{ body: "d", key: "k" }], T0);
        await chatLog.append(app, 1, [{ body: "d", key: "k" }], T0);
        assert.equal(await chatLog.head(app, 1), 4);
        assert.equal(await chatLog.head(app, 2), 0);
      }));

    it("seed sets only an absent counter and never lowers one", () =>
      using(make, async ({ sequencer, chatLog }) => {
        const app = await application(sequencer, 1);
        await fill(chatLog, app, 1, 3);
        await chatLog.seed(app, 1, 1);
        await chatLog.seed(app, 1, 50);
        assert.deepEqual(numbers(created(await chatLog.append(app, 1, sends("x"), T0))), [4]);

        const restored = newToken();
        await sequencer.seed(restored, 2);
        await chatLog.seed(restored, 2, 8);
        await chatLog.seed(restored, 2, 3);
        await chatLog.seed(restored, 2, 20);
        assert.equal(await chatLog.head(restored, 2), 8);
        assert.deepEqual(numbers(created(await chatLog.append(restored, 2, sends("x"), T0))), [9]);
      }));

    it("after a loss of state it is recovering until the epoch is set, then needs seeding and resumes from the seed", () =>
      using(make, async ({ sequencer, chatLog, loseState }) => {
        const app = await application(sequencer, 3);
        await fill(chatLog, app, 2, 5);

        await loseState();
        assert.deepEqual(await chatLog.append(app, 2, sends("x"), T0), { status: "recovering" });
        assert.deepEqual(await chatLog.append(app, 9, sends("x"), T0), { status: "recovering" });
        assert.equal(await chatLog.head(app, 2), 0, "the counter is unknown");

        await endFence(sequencer);
        assert.deepEqual(await chatLog.append(app, 2, sends("x"), T0), { status: "needs_seed" });

        // The store says: 3 chats, chat 2 has 5 messages.
        await sequencer.seed(app, 3);
        assert.deepEqual(await chatLog.append(app, 2, sends("x"), T0), { status: "needs_seed" }, "a lost message counter is never taken for a new chat's zero");
        assert.deepEqual(await chatLog.append(app, 9, sends("x"), T0), { status: "not_found" });
        await chatLog.seed(app, 2, 5);
        assert.deepEqual(numbers(created(await chatLog.append(app, 2, sends("x", "y"), T0))), [6, 7]);
        assert.equal(await chatLog.head(app, 2), 7);
        assert.deepEqual(numbers(await chatLog.listMessages(app, 2, 5, NO_UPPER, 50, false)), [6, 7]);

        assert.equal((await sequencer.allocateChats(app, [{ name: null, key: null }], T0)).status, "ok");
        assert.deepEqual(numbers(created(await chatLog.append(app, 4, sends("x"), T0))), [1], "chat 4 was created after the loss");
      }));
  });
}
