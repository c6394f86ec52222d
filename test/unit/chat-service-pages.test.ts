import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryBroker } from "../../src/adapters/memory/memory-broker.js";
import { MemoryWorkerHeartbeats } from "../../src/adapters/memory/memory-heartbeats.js";
import { MemoryLeaseLock } from "../../src/adapters/memory/memory-lock.js";
import { MemoryWriteQueue } from "../../src/adapters/memory/memory-queue.js";
import { MemoryRecentCache } from "../../src/adapters/memory/memory-recent.js";
import { MemorySearchIndex } from "../../src/adapters/memory/memory-search.js";
import { MemorySequencer } from "../../src/adapters/memory/memory-sequencer.js";
import { MemoryStore } from "../../src/adapters/memory/memory-store.js";
import { ChatService } from "../../src/domain/chat-service.js";
import { CounterRecovery } from "../../src/domain/recovery.js";
import type { Message, MessageRange } from "../../src/domain/types.js";

const APP = "app-token-for-pages-00";

/** A service whose store holds messages 1..20 and whose recent buffer holds `recentNumbers`. */
async function fixture(recentNumbers: number[], edited: number[] = []) {
  const store = new MemoryStore();
  const recent = new MemoryRecentCache();
  const sequencer = new MemorySequencer();
  const queue = new MemoryWriteQueue(new MemoryBroker());
  const message = (number: number): Message => ({ app: APP, chat: 1, number, body: `m${number}`, createdAt: number, updatedAt: number });
  await store.insertApplication({ token: APP, name: "pages", chatsCount: 0, createdAt: 0, updatedAt: 0 });
  await store.applyWrites([
    { kind: "chat", created: true, chat: { app: APP, number: 1, name: null, messagesCount: 0, createdAt: 0, updatedAt: 0 } },
    ...Array.from({ length: 20 }, (_, i) => ({ kind: "message" as const, created: true, message: message(i + 1) })),
  ]);
  await recent.putMessages(recentNumbers.map((n) => (edited.includes(n) ? { ...message(n), body: `edited ${n}`, updatedAt: 1000 } : message(n))));
  const service = new ChatService({
    store,
    sequencer,
    queue,
    recent,
    search: new MemorySearchIndex(),
    recovery: new CounterRecovery(sequencer, queue, new MemoryWorkerHeartbeats(), new MemoryLeaseLock(), { publishTimeoutMs: 0, pollMs: 1, onError: () => undefined }, async () => undefined),
    newToken: () => APP,
    now: Date.now,
    onLive: () => undefined,
    maxBatch: 100,
  });
  return service;
}

const page = async (recentNumbers: number[], range: MessageRange, limit: number, edited: number[] = []) => {
  const result = await (await fixture(recentNumbers, edited)).listMessages(APP, 1, range, limit);
  return { numbers: result.data.map((m) => m.number), next: result.next, bodies: result.data.map((m) => m.body) };
};

describe("message pages merge the recent buffer with the store", () => {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  for (const [name, recentNumbers] of [
    ["the buffer holds everything", range(20)],
    ["the buffer holds only the newest three", [18, 19, 20]],
    ["the buffer has a gap", [20, 19, 17, 16, 15, 14, 13]],
    ["the buffer is empty", []],
    ["the buffer holds an old edit and the newest", [3, 16, 17, 18, 19, 20]],
  ] as const) {
    it(`gives the same pages when ${name}`, async () => {
      assert.deepEqual(await page([...recentNumbers], { direction: "newest" }, 5), { numbers: [20, 19, 18, 17, 16], next: "16", bodies: ["m20", "m19", "m18", "m17", "m16"] });
      assert.deepEqual((await page([...recentNumbers], { direction: "before", number: 16 }, 5)).numbers, [15, 14, 13, 12, 11]);
      assert.deepEqual((await page([...recentNumbers], { direction: "before", number: 4 }, 5)).numbers, [3, 2, 1]);
      assert.deepEqual((await page([...recentNumbers], { direction: "after", number: 17 }, 5)).numbers, [18, 19, 20]);
      assert.deepEqual((await page([...recentNumbers], { direction: "after", number: 0 }, 3)).next, "3");
    });
  }

  it("shows the fresher version of an edited message from either source", async () => {
    const { bodies } = await page([3, 18, 19, 20], { direction: "after", number: 1 }, 3, [3]);
    assert.deepEqual(bodies, ["m2", "edited 3", "m4"]);
  });
});
