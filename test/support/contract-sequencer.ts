// Contract of the Sequencer port (src/ports/sequencer.ts), for every adapter.
//
// The factory returns a sequencer in normal operation (its epoch marker set),
// in a namespace of its own: `loseState` wipes that namespace the way a Redis
// restarting empty would, and must not touch anyone else's.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Allocation, Sequencer } from "../../src/ports/sequencer.js";
import { newToken, using, type Cleanup } from "./contract-helpers.js";

export interface SequencerFixture extends Cleanup {
  sequencer: Sequencer;
  /** Forgets every counter and the epoch marker of this fixture's namespace. */
  loseState(): Promise<void>;
}

function first(allocation: Allocation): number {
  assert.equal(allocation.status, "ok", `expected an allocation, got ${JSON.stringify(allocation)}`);
  return (allocation as { first: number }).first;
}

async function application(sequencer: Sequencer): Promise<string> {
  const app = newToken();
  await sequencer.initApplication(app);
  return app;
}

export function sequencerContract(name: string, make: () => Promise<SequencerFixture>): void {
  describe(`Sequencer contract: ${name}`, () => {
    it("numbers chats 1, 2, 3 … per application, a batch taking a consecutive range", () =>
      using(make, async ({ sequencer }) => {
        assert.equal(await sequencer.hasEpoch(), true);
        const a = await application(sequencer);
        const b = await application(sequencer);
        assert.equal(first(await sequencer.allocateChats(a, 1)), 1);
        assert.equal(first(await sequencer.allocateChats(a, 3)), 2);
        assert.equal(first(await sequencer.allocateChats(b, 2)), 1);
        assert.equal(first(await sequencer.allocateChats(a, 1)), 5);
        await sequencer.initApplication(a); // registering again never resets the counter
        assert.equal(first(await sequencer.allocateChats(a, 1)), 6);
        assert.equal(first(await sequencer.allocateChats(b, 1)), 3);
      }));

    it("numbers messages 1, 2, 3 … per chat, independently across chats and applications", () =>
      using(make, async ({ sequencer }) => {
        const a = await application(sequencer);
        const b = await application(sequencer);
        first(await sequencer.allocateChats(a, 2));
        first(await sequencer.allocateChats(b, 1));
        assert.equal(first(await sequencer.allocateMessages(a, 1, 1)), 1);
        assert.equal(first(await sequencer.allocateMessages(a, 1, 4)), 2);
        assert.equal(first(await sequencer.allocateMessages(a, 2, 1)), 1);
        assert.equal(first(await sequencer.allocateMessages(b, 1, 2)), 1);
        assert.equal(first(await sequencer.allocateMessages(a, 1, 1)), 6);
        assert.equal(first(await sequencer.allocateMessages(b, 1, 1)), 3);
      }));

    it("hands out unique, gap-free numbers under 200 concurrent allocations", () =>
      using(make, async ({ sequencer }) => {
        const app = await application(sequencer);
        const counts = Array.from({ length: 200 }, (_, i) => 1 + (i % 3));
        const chatFirsts = (await Promise.all(counts.map((n) => sequencer.allocateChats(app, n)))).map(first);
        const chatNumbers = chatFirsts.flatMap((f, i) => Array.from({ length: counts[i]! }, (_, k) => f + k)).sort((x, y) => x - y);
        const total = counts.reduce((s, n) => s + n, 0);
        assert.deepEqual(chatNumbers, Array.from({ length: total }, (_, i) => i + 1));

        const messageFirsts = (await Promise.all(Array.from({ length: 200 }, () => sequencer.allocateMessages(app, 7, 1)))).map(first);
        assert.deepEqual([...messageFirsts].sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i + 1));
        assert.equal(first(await sequencer.allocateMessages(app, 7, 1)), 201);
      }));

    it("answers not_found for a chat beyond the application's chat counter", () =>
      using(make, async ({ sequencer }) => {
        const app = await application(sequencer);
        assert.deepEqual(await sequencer.allocateMessages(app, 1, 1), { status: "not_found" }, "no chat yet");
        first(await sequencer.allocateChats(app, 2));
        assert.deepEqual(await sequencer.allocateMessages(app, 3, 1), { status: "not_found" });
        assert.deepEqual(await sequencer.allocateMessages(app, 4_000_000_000, 1), { status: "not_found" });
        assert.equal(first(await sequencer.allocateMessages(app, 2, 1)), 1);
      }));

    it("never hands out numbers for an application it was not told about", () =>
      using(make, async ({ sequencer }) => {
        // A sequencer cannot tell "never existed" from "counter lost": both
        // answers send the caller to the store, which knows.
        const unknown = newToken();
        for (const result of [await sequencer.allocateChats(unknown, 1), await sequencer.allocateMessages(unknown, 1, 1)]) {
          assert.ok(result.status === "not_found" || result.status === "needs_seed", JSON.stringify(result));
        }
      }));

    it("seed sets only absent counters and never lowers one", () =>
      using(make, async ({ sequencer }) => {
        const app = await application(sequencer);
        first(await sequencer.allocateChats(app, 5));
        first(await sequencer.allocateMessages(app, 2, 10));
        await sequencer.seed(app, 1, { number: 2, messageCounter: 3 });
        await sequencer.seed(app, 50, { number: 2, messageCounter: 70 });
        assert.equal(first(await sequencer.allocateChats(app, 1)), 6);
        assert.equal(first(await sequencer.allocateMessages(app, 2, 1)), 11);
      }));

    it("seed restores an absent counter, which then counts on from it", () =>
      using(make, async ({ sequencer }) => {
        const app = newToken(); // never initialised here: the store knows it
        await sequencer.seed(app, 4, { number: 3, messageCounter: 8 });
        assert.equal(first(await sequencer.allocateChats(app, 1)), 5);
        assert.equal(first(await sequencer.allocateMessages(app, 3, 2)), 9);
        assert.equal(first(await sequencer.allocateMessages(app, 5, 1)), 1, "chat 5 was created after the seed");
      }));

    it("after losing its state it is recovering until the epoch is set, then needs seeding and resumes from the seed", () =>
      using(make, async ({ sequencer, loseState }) => {
        const app = await application(sequencer);
        first(await sequencer.allocateChats(app, 3));
        first(await sequencer.allocateMessages(app, 2, 5));

        await loseState();
        assert.equal(await sequencer.hasEpoch(), false);
        assert.deepEqual(await sequencer.allocateChats(app, 1), { status: "recovering" });
        assert.deepEqual(await sequencer.allocateMessages(app, 2, 1), { status: "recovering" });

        await sequencer.setEpoch();
        assert.equal(await sequencer.hasEpoch(), true);
        assert.deepEqual(await sequencer.allocateChats(app, 1), { status: "needs_seed" });
        assert.deepEqual(await sequencer.allocateMessages(app, 2, 1), { status: "needs_seed" });

        // The store says: 3 chats, chat 2 has 5 messages.
        await sequencer.seed(app, 3);
        assert.equal(first(await sequencer.allocateChats(app, 1)), 4);
        assert.deepEqual(await sequencer.allocateMessages(app, 2, 1), { status: "needs_seed" }, "a lost message counter is never taken for a new chat's zero");
        assert.deepEqual(await sequencer.allocateMessages(app, 9, 1), { status: "not_found" });
        await sequencer.seed(app, 3, { number: 2, messageCounter: 5 });
        assert.equal(first(await sequencer.allocateMessages(app, 2, 1)), 6);
        assert.equal(first(await sequencer.allocateMessages(app, 4, 1)), 1, "chat 4 was created after the loss");
      }));
  });
}
