import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KeyedBatcher } from "../../src/domain/batcher.js";

describe("KeyedBatcher", () => {
  it("coalesces one tick's submissions into one flush per key, in order", async () => {
    const flushes: [string, number[]][] = [];
    const batcher = new KeyedBatcher<number, string>(async (key, items) => {
      flushes.push([key, items]);
      return items.map((i) => `${key}:${i}`);
    }, 100);
    const results = await Promise.all([batcher.submit("a", 1), batcher.submit("b", 9), batcher.submit("a", 2), batcher.submit("a", 3)]);
    assert.deepEqual(results, ["a:1", "b:9", "a:2", "a:3"]);
    assert.deepEqual(flushes, [
      ["a", [1, 2, 3]],
      ["b", [9]],
    ]);
  });

  it("runs one flush per key at a time; arrivals during it form the next batch", async () => {
    let running = 0;
    let maxRunning = 0;
    const sizes: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const batcher = new KeyedBatcher<number, number>(async (_key, items) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      sizes.push(items.length);
      if (sizes.length === 1) await gate;
      running--;
      return items;
    }, 1000);
    const first = batcher.submit("k", 0);
    await new Promise((r) => setImmediate(r));
    const rest = [1, 2, 3, 4].map((i) => batcher.submit("k", i));
    release();
    assert.deepEqual(await Promise.all([first, ...rest]), [0, 1, 2, 3, 4]);
    assert.equal(maxRunning, 1);
    assert.deepEqual(sizes, [1, 4]);
  });

  it("splits batches at maxBatch and rejects every item of a failed flush", async () => {
    const sizes: number[] = [];
    const batcher = new KeyedBatcher<number, number>(async (_k, items) => {
      sizes.push(items.length);
      if (items.includes(4)) throw new Error("boom");
      return items;
    }, 3);
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => batcher.submit("k", i)));
    assert.deepEqual(sizes, [3, 2]);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "fulfilled", "fulfilled", "rejected", "rejected"]);
  });
});
