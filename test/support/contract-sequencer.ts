// Contract of the Sequencer port (src/ports/sequencer.ts), for every adapter:
// chat numbers per application, their idempotency keys, and the epoch marker
// that fences numbering after a loss of state. (Message numbers are the chat
// log's: contract-chat-log.ts.)
//
// The factory returns a sequencer in normal operation (its epoch marker set),
// in a namespace of its own: `loseState` wipes that namespace the way a Redis
// restarting empty would, and must not touch anyone else's.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ChatAllocation, ChatCreate, Numbered, Sequencer } from "../../src/ports/sequencer.js";
import { newToken, using, type Cleanup } from "./contract-helpers.js";

export interface SequencerFixture extends Cleanup {
  sequencer: Sequencer;
  /** Forgets every counter, idempotency key and the epoch marker of this fixture's namespace. */
  loseState(): Promise<void>;
}

const T0 = 1_700_000_000_000;

/** `count` unnamed creates without keys. */
const plain = (count: number, name: string | null = null): ChatCreate[] => Array.from({ length: count }, () => ({ name, key: null }));

function outcomes(allocation: ChatAllocation): Numbered[] {
  assert.equal(allocation.status, "ok", `expected an allocation, got ${JSON.stringify(allocation)}`);
  return (allocation as { outcomes: Numbered[] }).outcomes;
}

/** The numbers of a batch that created every item. */
function created(allocation: ChatAllocation): number[] {
  return outcomes(allocation).map((o) => {
    assert.equal(o.kind, "created", JSON.stringify(o));
    return (o as { number: number }).number;
  });
}

async function application(sequencer: Sequencer): Promise<string> {
  const app = newToken();
  await sequencer.initApplication(app);
  return app;
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

export function sequencerContract(name: string, make: () => Promise<SequencerFixture>): void {
  describe(`Sequencer contract: ${name}`, () => {
    it("numbers chats 1, 2, 3 … per application, a batch taking a consecutive range", () =>
      using(make, async ({ sequencer }) => {
        assert.equal(await sequencer.hasEpoch(), true);
        const a = await application(sequencer);
        const b = await application(sequencer);
        assert.deepEqual(created(await sequencer.allocateChats(a, plain(1), T0)), [1]);
        assert.deepEqual(created(await sequencer.allocateChats(a, plain(3), T0)), [2, 3, 4]);
        assert.deepEqual(created(await sequencer.allocateChats(b, plain(2), T0)), [1, 2]);
        assert.deepEqual(created(await sequencer.allocateChats(a, plain(1), T0)), [5]);
        await sequencer.initApplication(a); // registering again never resets the counter
        assert.deepEqual(created(await sequencer.allocateChats(a, plain(1), T0)), [6]);
        assert.deepEqual(created(await sequencer.allocateChats(b, plain(1), T0)), [3]);
      }));

    it("answers each create with its number and the allocation's time, and an empty batch with nothing", () =>
      using(make, async ({ sequencer }) => {
        const app = await application(sequencer);
        assert.deepEqual(outcomes(await sequencer.allocateChats(app, [{ name: "a", key: null }, { name: null, key: null }], T0 + 7)), [
          { kind: "created", number: 1, createdAt: T0 + 7 },
          { kind: "created", number: 2, createdAt: T0 + 7 },
        ]);
        assert.deepEqual(outcomes(await sequencer.allocateChats(app, [], T0 + 8)), []);
        assert.deepEqual(created(await sequencer.allocateChats(app, plain(1), T0 + 9)), [3], "an empty batch takes no number");
      }));

    it("hands out unique, gap-free numbers under 200 concurrent allocations, each batch consecutive", () =>
      using(make, async ({ sequencer }) => {
        const app = await application(sequencer);
        const counts = Array.from({ length: 200 }, (_, i) => 1 + (i % 3));
        const batches = (await Promise.all(counts.map((n) => sequencer.allocateChats(app, plain(n), T0)))).map(created);
        batches.forEach((batch, i) => {
          assert.equal(batch.length, counts[i]);
          assert.deepEqual(batch, range(batch[0]!, batch.length), "a batch is one consecutive range");
        });
        const total = counts.reduce((s, n) => s + n, 0);
        assert.deepEqual(batches.flat().sort((x, y) => x - y), range(1, total));
        assert.deepEqual(created(await sequencer.allocateChats(app, plain(1), T0)), [total + 1]);
      }));

    it("answers a repeated idempotency key with the original number and time, taking no new number", () =>
      using(make, async ({ sequencer }) => {
        const app = await application(sequencer);
        assert.deepEqual(outcomes(await sequencer.allocateChats(app, [{ name: "general", key: "k1" }], T0 + 1)), [{ kind: "created", number: 1, createdAt: T0 + 1 }]);
        assert.deepEqual(outcomes(await sequencer.allocateChats(app, [{ name: "general", key: "k1" }], T0 + 50)), [{ kind: "repeat", number: 1, createdAt: T0 + 1 }]);
        assert.deepEqual(outcomes(await sequencer.allocateChats(app, [{ name: null, key: "k2" }], T0 + 2)), [{ kind: "created", number: 2, createdAt: T0 + 2 }]);
        assert.deepEqual(outcomes(await sequencer.allocateChats(app, [{ name: null, key: "k2" }], T0 + 60)), [{ kind: "repeat", number: 2, createdAt: T0 + 2 }]);
        // Mixed with new creates: only those take numbers, in order.
        assert.deepEqual(
          outcomes(
            await sequencer.allocateChats(
              app,
              [
                { name: "x", key: null },
                { name: "general", key: "k1" },
                { name: "y", key: "k3" },
              ],
              T0 + 70,
            ),
          ),
          [
            { kind: "created", number: 3, createdAt: T0 + 70 },
            { kind: "repeat", number: 1, createdAt: T0 + 1 },
            { kind: "created", number: 4, createdAt: T0 + 70 },
          ],
        );
        assert.deepEqual(created(await sequencer.allocateChats(app, plain(1), T0)), [5], "repeats took no number");
      }));

    it("answers a key reused for a different name with a conflict; a null name and \"\" differ", () =>
      using(make, async ({ sequencer }) => {
        const app = await application(sequencer);
        created(await sequencer.allocateChats(app, [{ name: "general", key: "k" }], T0));
        assert.deepEqual(outcomes(await sequencer.allocateChats(app, [{ name: "random", key: "k" }], T0)), [{ kind: "conflict" }]);
        assert.deepEqual(outcomes(await sequencer.allocateChats(app, [{ name: null, key: "k" }], T0)), [{ kind: "conflict" }]);
        assert.deepEqual(outcomes(await sequencer.allocateChats(app, [{ name: "general", key: "k" }], T0 + 5)), [{ kind: "repeat", number: 1, createdAt: T0 }], "a conflict forgets nothing");

        created(await sequencer.allocateChats(app, [{ name: null, key: "unnamed" }], T0));
        assert.deepEqual(outcomes(await sequencer.allocateChats(app, [{ name: "", key: "unnamed" }], T0)), [{ kind: "conflict" }]);
        created(await sequencer.allocateChats(app, [{ name: "", key: "empty" }], T0));
        assert.deepEqual(outcomes(await sequencer.allocateChats(app, [{ name: null, key: "empty" }], T0)), [{ kind: "conflict" }]);
        assert.deepEqual(outcomes(await sequencer.allocateChats(app, [{ name: "", key: "empty" }], T0)), [{ kind: "repeat", number: 3, createdAt: T0 }]);
        assert.deepEqual(created(await sequencer.allocateChats(app, plain(1), T0)), [4], "conflicts took no number");
      }));

    it("treats a key twice in one batch as the second a repeat (or conflict) of the first", () =>
      using(make, async ({ sequencer }) => {
        const app = await application(sequencer);
        assert.deepEqual(
          outcomes(
            await sequencer.allocateChats(
              app,
              [
                { name: "same", key: "twice" },
                { name: "same", key: "twice" },
                { name: "other", key: "twice" },
              ],
              T0 + 3,
            ),
          ),
          [
            { kind: "created", number: 1, createdAt: T0 + 3 },
            { kind: "repeat", number: 1, createdAt: T0 + 3 },
            { kind: "conflict" },
          ],
        );
        assert.deepEqual(created(await sequencer.allocateChats(app, plain(1), T0)), [2]);
      }));

    it("keeps idempotency keys per application", () =>
      using(make, async ({ sequencer }) => {
        const a = await application(sequencer);
        const b = await application(sequencer);
        created(await sequencer.allocateChats(a, plain(2), T0));
        assert.deepEqual(outcomes(await sequencer.allocateChats(a, [{ name: "n", key: "shared" }], T0)), [{ kind: "created", number: 3, createdAt: T0 }]);
        assert.deepEqual(outcomes(await sequencer.allocateChats(b, [{ name: "other name", key: "shared" }], T0 + 1)), [{ kind: "created", number: 1, createdAt: T0 + 1 }]);
      }));

    it("answers needs_seed for an application it was not told about, and numbers none", () =>
      using(make, async ({ sequencer }) => {
        // A sequencer cannot tell "never existed" from "counter lost": the
        // answer sends the caller to the store, which knows.
        const unknown = newToken();
        assert.deepEqual(await sequencer.allocateChats(unknown, plain(1), T0), { status: "needs_seed" });
        assert.deepEqual(await sequencer.allocateChats(unknown, [{ name: "n", key: "k" }], T0), { status: "needs_seed" });
        await sequencer.seed(unknown, 0); // the store says: it exists, without chats
        assert.deepEqual(created(await sequencer.allocateChats(unknown, [{ name: "n", key: "k" }], T0)), [1], "the key was not taken by the refused call");
      }));

    it("seed sets only absent counters and never lowers one", () =>
      using(make, async ({ sequencer }) => {
        const app = await application(sequencer);
        created(await sequencer.allocateChats(app, plain(5), T0));
        await sequencer.seed(app, 1);
        await sequencer.seed(app, 50);
        assert.deepEqual(created(await sequencer.allocateChats(app, plain(1), T0)), [6]);

        const restored = newToken(); // never initialised here: the store knows it
        await sequencer.seed(restored, 4);
        await sequencer.seed(restored, 2);
        await sequencer.seed(restored, 9);
        await sequencer.initApplication(restored);
        assert.deepEqual(created(await sequencer.allocateChats(restored, plain(2), T0)), [5, 6]);
      }));

    it("after losing its state it is recovering until the epoch is set, then needs seeding and resumes from the seed", () =>
      using(make, async ({ sequencer, loseState }) => {
        const app = await application(sequencer);
        created(await sequencer.allocateChats(app, [...plain(2), { name: "keyed", key: "k" }], T0));

        await loseState();
        assert.equal(await sequencer.hasEpoch(), false);
        assert.deepEqual(await sequencer.allocateChats(app, plain(1), T0), { status: "recovering" });
        await sequencer.seed(app, 3); // seeding alone does not end the fence
        assert.deepEqual(await sequencer.allocateChats(app, plain(1), T0), { status: "recovering" });

        await loseState();
        const end = await sequencer.fenced();
        assert.ok(end, "what is fenced, and the step that ends it");
        assert.equal(await sequencer.hasEpoch(), false, "looking at the fence ends nothing");
        await end();
        assert.equal(await sequencer.hasEpoch(), true);
        assert.equal(await sequencer.fenced(), null);
        assert.deepEqual(await sequencer.allocateChats(app, plain(1), T0), { status: "needs_seed" });

        // The store says: 3 chats.
        await sequencer.seed(app, 3);
        assert.deepEqual(created(await sequencer.allocateChats(app, plain(2), T0)), [4, 5]);
      }));

    it("has no fence to end while its state is intact, and ending one twice undoes no numbering", () =>
      using(make, async ({ sequencer, loseState }) => {
        const app = await application(sequencer);
        created(await sequencer.allocateChats(app, plain(2), T0));
        assert.equal(await sequencer.fenced(), null);
        await sequencer.ping();
        assert.equal(await sequencer.hasEpoch(), true);
        assert.deepEqual(created(await sequencer.allocateChats(app, plain(1), T0)), [3]);

        await loseState();
        const end = (await sequencer.fenced())!;
        await end();
        await end();
        await sequencer.seed(app, 3);
        assert.deepEqual(created(await sequencer.allocateChats(app, plain(1), T0)), [4]);
      }));
  });
}
