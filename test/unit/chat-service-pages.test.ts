import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryBroker } from "../../src/adapters/memory/memory-broker.js";
import { MemoryBus } from "../../src/adapters/memory/memory-bus.js";
import { MemoryChatLog } from "../../src/adapters/memory/memory-chat-log.js";
import { MemoryWorkerHeartbeats } from "../../src/adapters/memory/memory-heartbeats.js";
import { MemoryLeaseLock } from "../../src/adapters/memory/memory-lock.js";
import { MemoryWriteQueue } from "../../src/adapters/memory/memory-queue.js";
import { MemoryRecentChats } from "../../src/adapters/memory/memory-recent-chats.js";
import { MemorySearchIndex } from "../../src/adapters/memory/memory-search.js";
import { MemorySequencer } from "../../src/adapters/memory/memory-sequencer.js";
import { MemoryStore } from "../../src/adapters/memory/memory-store.js";
import { ChatService } from "../../src/domain/chat-service.js";
import { CounterRecovery } from "../../src/domain/recovery.js";
import type { Message, MessageRange } from "../../src/domain/types.js";

const APP = "app-token-for-pages-00";

/**
 * A service whose store holds messages 1..20 and whose chat log holds
 * `recentNumbers` (those in `edited` as a later version). The log's counter
 * stands at 20, as after those appends: its newest consecutive run up to 20
 * is appended (at the store's times), anything older is put by `edit`, the
 * other way entries enter a chat log.
 */
async function fixture(recentNumbers: number[], edited: number[] = []) {
  const store = new MemoryStore();
  const sequencer = new MemorySequencer();
  const chatLog = new MemoryChatLog(sequencer, new MemoryBus(), { keep: 64, maxChats: 16 });
  const queue = new MemoryWriteQueue(new MemoryBroker());
  const message = (number: number): Message => ({ app: APP, chat: 1, number, body: `m${number}`, createdAt: number, updatedAt: number });
  const version = (number: number): Message => (edited.includes(number) ? { ...message(number), body: `edited ${number}`, updatedAt: 1000 } : message(number));
  await store.insertApplication({ token: APP, name: "pages", chatsCount: 0, createdAt: 0, updatedAt: 0 });
  await store.applyWrites([
    { kind: "chat", created: true, chat: { app: APP, number: 1, name: null, messagesCount: 0, createdAt: 0, updatedAt: 0 } },
    ...Array.from({ length: 20 }, (_, i) => ({ kind: "message" as const, created: true, message: message(i + 1) })),
  ]);

  let first = 21; // the newest consecutive run of recentNumbers ending at 20: first..20
  while (recentNumbers.includes(first - 1)) first -= 1;
  await sequencer.seed(APP, 1);
  await chatLog.seed(APP, 1, first - 1);
  for (let n = first; n <= 20; n++) {
    const appended = await chatLog.append(APP, 1, [{ body: `m${n}`, key: null }], n);
    assert.equal(appended.status === "ok" && appended.outcomes[0]?.kind === "created" && appended.outcomes[0].message.number, n);
  }
  assert.equal(await chatLog.head(APP, 1), 20);
  for (const n of recentNumbers) if (n < first || edited.includes(n)) await chatLog.edit(version(n));
  assert.deepEqual(
    (await chatLog.listMessages(APP, 1, 0, Number.MAX_SAFE_INTEGER, 100, false)).map((m) => [m.number, m.body]),
    [...recentNumbers].sort((a, b) => a - b).map((n) => [n, version(n).body]),
    "the log holds what the case says",
  );

  const service = new ChatService({
    store,
    sequencer,
    chatLog,
    queue,
    recentChats: new MemoryRecentChats(),
    search: new MemorySearchIndex(),
    recovery: new CounterRecovery(sequencer, queue, new MemoryWorkerHeartbeats(), new MemoryLeaseLock(), { publishTimeoutMs: 0, pollMs: 1, onError: () => undefined }, async () => undefined),
    newToken: () => APP,
    now: Date.now,
    onChatCreated: () => undefined,
    observer: { batch: () => undefined, inflight: () => undefined, recovering: () => undefined, messagesCreated: () => undefined },
    maxBatch: 100,
    maxInflightCreates: 10_000,
  });
  return service;
}

const page = async (recentNumbers: number[], range: MessageRange, limit: number, edited: number[] = []) => {
  const result = await (await fixture(recentNumbers, edited)).listMessages(APP, 1, range, limit);
  return { numbers: result.data.map((m) => m.number), next: result.next, bodies: result.data.map((m) => m.body) };
};

describe("message pages merge the chat log with the store", () => {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  for (const [name, recentNumbers] of [
    ["the log holds everything", range(20)],
    ["the log holds only the newest three", [18, 19, 20]],
    ["the log has a gap", [20, 19, 17, 16, 15, 14, 13]],
    ["the log is empty", []],
    ["the log holds an old edit and the newest", [3, 16, 17, 18, 19, 20]],
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
