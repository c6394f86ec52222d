import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChatSequence } from "../../client/chat-sequence.js";
import type { LiveMessage } from "../../client/types.js";

const message = (number: number): LiveMessage => ({ app: "a", chat: 1, number, body: `m${number}`, sender: null, created_at: "2026-01-01T00:00:00.000Z" });

/** A sequence whose deliveries are recorded; `fill` answers from `readable`, the numbers REST would find. */
function sequence(since: number, readable: number[] = [], gapWaitMs = 5) {
  const delivered: number[] = [];
  const fills: [number, number][] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const seq = new ChatSequence(since, {
    gapWaitMs,
    fill: async (after, upTo) => {
      fills.push([after, upTo]);
      return readable.filter((n) => n > after && n <= upTo).map(message);
    },
    deliver: (m) => {
      delivered.push(m.number);
      for (const w of waiters.filter((w) => delivered.length >= w.count)) w.resolve();
    },
  });
  const deliveredCount = (count: number): Promise<void> =>
    delivered.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }));
  return { seq, delivered, fills, deliveredCount };
}

describe("ChatSequence: each number once, in increasing order", () => {
  it("passes consecutive numbers through and drops repeats and old numbers", () => {
    const { seq, delivered, fills } = sequence(2);
    for (const n of [1, 2, 3, 4, 3, 4, 5]) seq.push(message(n));
    assert.deepEqual(delivered, [3, 4, 5]);
    assert.equal(seq.last, 5);
    assert.deepEqual(fills, [], "no gap, no REST read");
  });

  it("holds a number that overtook its predecessor until the predecessor arrives", () => {
    const { seq, delivered, fills } = sequence(0, [], 60_000);
    for (const n of [1, 4, 3, 2, 5]) seq.push(message(n));
    assert.deepEqual(delivered, [1, 2, 3, 4, 5]);
    assert.deepEqual(fills, []);
    seq.reset();
  });

  it("reads a gap that does not close over REST, and takes numbers nobody has as unused", async () => {
    const { seq, delivered, fills, deliveredCount } = sequence(0, [2, 5]);
    for (const n of [1, 3, 6]) seq.push(message(n));
    assert.deepEqual(delivered, [1]);
    await deliveredCount(4);
    assert.deepEqual(fills, [[1, 6]]);
    assert.deepEqual(delivered, [1, 2, 3, 5, 6], "2 and 5 came from REST; 4 does not exist");
    seq.push(message(4));
    assert.deepEqual(delivered, [1, 2, 3, 5, 6], "a late 4 is below the last delivered: dropped");
  });

  it("forgets held numbers on reset (the resumed subscription replays them)", () => {
    const { seq, delivered } = sequence(0, [], 60_000);
    seq.push(message(2));
    seq.reset();
    seq.push(message(1));
    assert.deepEqual(delivered, [1]);
    seq.reset();
  });
});
