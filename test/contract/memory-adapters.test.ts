// What only the embedded adapters promise, beyond the port contracts: the
// memory bounds, behaviour under an injected clock, and their test hooks.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryBroker } from "../../src/adapters/memory/memory-broker.js";
import { MemoryBus } from "../../src/adapters/memory/memory-bus.js";
import { MemoryChatLog } from "../../src/adapters/memory/memory-chat-log.js";
import { MemoryWriteConsumer } from "../../src/adapters/memory/memory-consumer.js";
import { MemoryWorkerHeartbeats } from "../../src/adapters/memory/memory-heartbeats.js";
import { MemoryIdempotency } from "../../src/adapters/memory/memory-idempotency.js";
import { MemoryLeaseLock, type Lease } from "../../src/adapters/memory/memory-lock.js";
import { MemoryWriteQueue } from "../../src/adapters/memory/memory-queue.js";
import { MemoryRecentChats } from "../../src/adapters/memory/memory-recent-chats.js";
import { MemorySearchIndex } from "../../src/adapters/memory/memory-search.js";
import { MemorySequencer } from "../../src/adapters/memory/memory-sequencer.js";
import { MemoryStore } from "../../src/adapters/memory/memory-store.js";
import { NumberedLog } from "../../src/adapters/memory/numbered-log.js";
import { DomainError } from "../../src/domain/errors.js";
import type { Chat, Message, WriteEvent } from "../../src/domain/types.js";
import { eventually, gate, shuffled, waitFor } from "../support/contract-helpers.js";

const T0 = 1_700_000_000_000;

function message(app: string, chat: number, number: number, body = `m${number}`, at = T0 + number): Message {
  return { app, chat, number, body, createdAt: T0 + number, updatedAt: at };
}

const created = (m: Message): WriteEvent => ({ kind: "message", created: true, message: m });

async function storeWithApp(options: ConstructorParameters<typeof MemoryStore>[0]): Promise<MemoryStore> {
  const store = new MemoryStore(options);
  await store.insertApplication({ token: "app", name: "app", chatsCount: 0, createdAt: T0, updatedAt: T0 });
  return store;
}

async function numbersIn(store: MemoryStore, chat: number): Promise<number[]> {
  return (await store.listMessages("app", chat, { direction: "after", number: 0 }, 1000)).map((m) => m.number);
}

describe("MemoryStore memory bound", () => {
  it("drops a chat's oldest messages past the per-chat cap, keeping count and numbering", async () => {
    const store = await storeWithApp({ maxMessagesPerChat: 3 });
    await store.applyWrites([1, 2, 3, 4, 5].map((n) => created(message("app", 1, n))));
    assert.deepEqual(await numbersIn(store, 1), [3, 4, 5]);
    assert.equal(await store.findMessage("app", 1, 1), null);
    assert.equal((await store.findChat("app", 1))?.messagesCount, 5, "the count is of messages created");
    assert.equal(await store.maxMessageNumber("app", 1), 5);

    await store.applyWrites([created(message("app", 1, 1)), created(message("app", 1, 2))]); // late redelivery
    assert.deepEqual(await numbersIn(store, 1), [3, 4, 5], "a dropped number does not come back");
    assert.equal((await store.findChat("app", 1))?.messagesCount, 5);
    assert.deepEqual(await store.reconcileCounts(null, 100), { cursor: null, repaired: 0 }, "the reconciler agrees");
  });

  it("drops the globally oldest messages past the total cap", async () => {
    const store = await storeWithApp({ maxMessagesPerChat: 10, maxMessagesTotal: 4 });
    for (const n of [1, 2, 3]) await store.applyWrites([created(message("app", 1, n)), created(message("app", 2, n))]);
    assert.deepEqual(await numbersIn(store, 1), [2, 3]);
    assert.deepEqual(await numbersIn(store, 2), [2, 3]);
    assert.equal(await store.maxMessageNumber("app", 1), 3);
    assert.equal((await store.findChat("app", 2))?.messagesCount, 3);
  });

  it("keeps global eviction in write order after many per-chat drops", async () => {
    const store = await storeWithApp({ maxMessagesPerChat: 2, maxMessagesTotal: 5 });
    for (let n = 1; n <= 3000; n++) await store.applyWrites([created(message("app", 1, n))]);
    assert.deepEqual(await numbersIn(store, 1), [2999, 3000]);
    for (const chat of [2, 3, 4]) await store.applyWrites([created(message("app", chat, 1))]);
    await store.applyWrites([created(message("app", 5, 1))]); // sixth message: chat 1's oldest goes
    assert.deepEqual(await numbersIn(store, 1), [3000]);
    for (const chat of [2, 3, 4, 5]) assert.deepEqual(await numbersIn(store, chat), [1]);
    await store.applyWrites([created(message("app", 6, 1))]);
    assert.deepEqual(await numbersIn(store, 1), []);
    assert.equal((await store.findChat("app", 1))?.messagesCount, 3000);
  });

  it("never scans a dropped message into a search rebuild", async () => {
    const store = await storeWithApp({ maxMessagesPerChat: 2 });
    await store.applyWrites([1, 2, 3].map((n) => created(message("app", 1, n))));
    assert.deepEqual((await store.scanMessages(null, 100)).map((m) => m.number), [2, 3]);
  });
});

describe("MemorySequencer and MemoryChatLog", () => {
  async function log(options: { keep: number; maxChats: number }) {
    const sequencer = new MemorySequencer();
    await sequencer.initApplication("app");
    assert.equal((await sequencer.allocateChats("app", Array.from({ length: 5 }, () => ({ name: null, key: null })), T0)).status, "ok");
    const bus = new MemoryBus();
    return { sequencer, chatLog: new MemoryChatLog(sequencer, bus, options) };
  }
  const append = (chatLog: MemoryChatLog, chat: number, body: string) => chatLog.append("app", chat, [{ body, key: null }], T0);

  it("drops the least recently written chat's window past maxChats, keeping its numbering", async () => {
    const { chatLog } = await log({ keep: 5, maxChats: 2 });
    await append(chatLog, 1, "1.1");
    await append(chatLog, 2, "2.1");
    await append(chatLog, 1, "1.2"); // chat 1 written again: chat 2 is now the oldest
    await append(chatLog, 3, "3.1");
    assert.equal(await chatLog.getMessage("app", 2, 1), null);
    assert.deepEqual(await chatLog.listMessages("app", 2, 0, Infinity, 10, false), []);
    assert.notEqual(await chatLog.getMessage("app", 1, 1), null);
    assert.notEqual(await chatLog.getMessage("app", 3, 1), null);
    assert.equal(await chatLog.head("app", 2), 1, "the counter is the sequencer's, not the window's");
    const again = await append(chatLog, 2, "2.2");
    const outcome = again.status === "ok" ? again.outcomes[0] : undefined;
    assert.equal(outcome?.kind === "created" ? outcome.message.number : null, 2);
  });

  it("counts an edit as a write for eviction", async () => {
    const { chatLog } = await log({ keep: 5, maxChats: 2 });
    await append(chatLog, 1, "1.1");
    await append(chatLog, 2, "2.1");
    await chatLog.edit({ ...message("app", 1, 1, "edited", T0 + 100), createdAt: T0 });
    await append(chatLog, 3, "3.1");
    assert.equal((await chatLog.getMessage("app", 1, 1))?.body, "edited");
    assert.equal(await chatLog.getMessage("app", 2, 1), null);
  });

  it("forgets the log's entries with the sequencer's state (loseState), as a Redis restarting empty does", async () => {
    const { sequencer, chatLog } = await log({ keep: 5, maxChats: 10 });
    await append(chatLog, 1, "before");
    sequencer.loseState();
    assert.equal(await chatLog.getMessage("app", 1, 1), null);
    assert.equal(await sequencer.hasEpoch(), false);
    await (await sequencer.fenced())?.();
    await sequencer.seed("app", 5);
    await chatLog.seed("app", 1, 1);
    await append(chatLog, 1, "after");
    assert.deepEqual((await chatLog.listMessages("app", 1, 0, Infinity, 10, false)).map((m) => m.body), ["after"]);
  });
});

describe("MemoryIdempotency", () => {
  it("forgets a key once its ttl passed, and the oldest key past its bound", () => {
    let now = 1000;
    const keys = new MemoryIdempotency(100, 2, () => now);
    keys.set("scope", "a", { number: 1, createdAt: 1, fingerprint: "f" });
    now = 1099;
    const remembered = keys.get("scope", "a");
    assert.deepEqual([remembered?.number, remembered?.createdAt, remembered?.fingerprint], [1, 1, "f"]);
    assert.equal(keys.get("other scope", "a"), null, "keys are scoped");
    now = 1100;
    assert.equal(keys.get("scope", "a"), null, "expired at exactly the ttl");

    keys.set("scope", "b", { number: 2, createdAt: 2, fingerprint: "f" });
    keys.set("scope", "c", { number: 3, createdAt: 3, fingerprint: "f" });
    keys.set("scope", "d", { number: 4, createdAt: 4, fingerprint: "f" });
    assert.equal(keys.get("scope", "b"), null, "the oldest goes past the bound");
    assert.equal(keys.get("scope", "c")?.number, 3);
    assert.equal(keys.get("scope", "d")?.number, 4);
  });
});

describe("MemoryRecentChats", () => {
  const chat = (number: number, name = `c${number}`, at = T0 + number): Chat => ({ app: "app", number, name, messagesCount: 0, createdAt: T0 + number, updatedAt: at });

  it("keeps what was written most recently: a rename of an old chat outlives older writes", async () => {
    const recent = new MemoryRecentChats({ maxPerApp: 3 });
    await recent.putChats([1, 2, 3].map((n) => chat(n)));
    await recent.putChats([chat(1, "renamed", T0 + 100)]);
    await recent.putChats([chat(4)]);
    assert.deepEqual((await recent.listChats("app", 0, 10)).map((c) => c.number), [1, 3, 4]);
    assert.equal((await recent.getChat("app", 1))?.name, "renamed");
  });

  it("drops the least recently written application's window past maxApps", async () => {
    const recent = new MemoryRecentChats({ maxPerApp: 5, maxApps: 2 });
    await recent.putChats([{ ...chat(1), app: "a" }]);
    await recent.putChats([{ ...chat(1), app: "b" }]);
    await recent.putChats([{ ...chat(2), app: "a" }]); // a written again: b is now the oldest
    await recent.putChats([{ ...chat(1), app: "c" }]);
    assert.equal(await recent.getChat("b", 1), null);
    assert.notEqual(await recent.getChat("a", 1), null);
    assert.notEqual(await recent.getChat("c", 1), null);
  });

  it("rejects bounds below 1", () => {
    assert.throws(() => new MemoryRecentChats({ maxPerApp: 0 }), RangeError);
    assert.throws(() => new MemoryRecentChats({ maxApps: 0 }), RangeError);
  });
});

describe("MemoryWriteQueue / MemoryWriteConsumer", () => {
  it("rejects a publish when the broker is full, instead of growing", async () => {
    const broker = new MemoryBroker(2);
    const queue = new MemoryWriteQueue(broker);
    await queue.publish([created(message("app", 1, 1))]);
    await queue.publish([created(message("app", 1, 2))]);
    await assert.rejects(queue.publish([created(message("app", 1, 3))]), /full/);
  });

  it("holds a failing batch through the backoff and hands it back to the broker on close", async () => {
    const broker = new MemoryBroker();
    const queue = new MemoryWriteQueue(broker);
    const failing = new MemoryWriteConsumer(broker, { minBackoffMs: 5, maxBackoffMs: 5 });
    let attempts = 0;
    await failing.start(async () => {
      attempts += 1;
      throw new Error("down");
    });
    await queue.publish([created(message("app", 1, 1))]);
    await waitFor(() => attempts >= 3, { what: "retries" });
    assert.equal(failing.inFlight(), 1);
    assert.equal((await queue.backlog()).waiting, 0, "held, not waiting");
    assert.equal(failing.inFlight(), 1);
    await failing.close();
    assert.equal(failing.inFlight(), 0);
    assert.equal(broker.pending, 1, "the batch went back, not away");

    const handled: WriteEvent[] = [];
    const next = new MemoryWriteConsumer(broker);
    await next.start(async (events) => {
      handled.push(...events);
    });
    await waitFor(() => handled.length === 1, { what: "the second consumer to handle it" });
    assert.deepEqual(await queue.backlog(), { waiting: 0, consumers: 1 });
    assert.deepEqual(handled, [created(message("app", 1, 1))]);
    await next.close();
  });

  it("waits for the handler in progress when closing", async () => {
    const broker = new MemoryBroker();
    const consumer = new MemoryWriteConsumer(broker);
    const hold = gate();
    let finished = false;
    await consumer.start(async () => {
      await hold.promise;
      finished = true;
    });
    broker.enqueue([created(message("app", 1, 1))]);
    await waitFor(() => consumer.inFlight() === 1);
    const closing = consumer.close();
    hold.open();
    await closing;
    assert.equal(finished, true);
    assert.equal(broker.pending, 0, "the finished batch was acked");
  });

  it("gives the handler a copy: a publisher mutating its events later changes nothing", async () => {
    const broker = new MemoryBroker();
    const queue = new MemoryWriteQueue(broker);
    const events = [created(message("app", 1, 1, "as published"))];
    await queue.publish(events);
    (events[0] as { message: Message }).message.body = "mutated";
    const consumer = new MemoryWriteConsumer(broker);
    const bodies: string[] = [];
    await consumer.start(async (batch) => {
      for (const e of batch) if (e.kind === "message") bodies.push(e.message.body);
    });
    await waitFor(() => bodies.length === 1);
    assert.deepEqual(bodies, ["as published"]);
    await consumer.close();
  });
});

describe("MemoryBus", () => {
  it("keeps delivering to other handlers when one throws, and refuses publishes once closed", async () => {
    const bus = new MemoryBus();
    const got: string[] = [];
    bus.onMessage(() => {
      throw new Error("buggy handler");
    });
    bus.onMessage((channel) => got.push(channel));
    await bus.subscribe("c");
    await bus.publish("c", new Uint8Array([1]));
    await waitFor(() => got.length === 1);
    await bus.close();
    await assert.rejects(bus.publish("c", new Uint8Array([1])));
  });
});

describe("MemoryLeaseLock and MemoryWorkerHeartbeats with a clock", () => {
  it("a lease lasts exactly its ttl", async () => {
    let now = 1000;
    const leases = new Map<string, Lease>();
    const a = new MemoryLeaseLock(leases, () => now);
    const b = new MemoryLeaseLock(leases, () => now);
    assert.equal(await a.acquire("x", 100), true);
    now = 1099;
    assert.equal(await b.acquire("x", 100), false);
    now = 1100;
    assert.equal(await b.acquire("x", 100), true);
  });

  it("a worker silent for longer than liveMs no longer counts", async () => {
    let now = 1000;
    const heartbeats = new MemoryWorkerHeartbeats({ liveMs: 500, now: () => now });
    const mark = await heartbeats.observe();
    await heartbeats.beat("stuck", mark, 4);
    assert.equal(await heartbeats.idleWorkers(mark), null);
    now = 1500;
    assert.equal(await heartbeats.idleWorkers(mark), null, "still alive at exactly liveMs");
    now = 1501;
    assert.equal(await heartbeats.idleWorkers(mark), 0, "dead: its deliveries were requeued");
  });
});

describe("MemorySearchIndex", () => {
  it("rejects a cursor it did not issue and a limit out of range", async () => {
    const search = new MemorySearchIndex();
    await search.index([message("app", 1, 1, "hello")]);
    for (const bad of ["", "not-a-cursor", Buffer.from('["x",1]').toString("base64url")]) {
      await assert.rejects(search.search("app", 1, "hello", 10, bad), (err: unknown) => err instanceof DomainError && err.code === "validation_failed");
    }
    await assert.rejects(search.search("app", 1, "hello", 0, null), DomainError);
    await assert.rejects(search.search("app", 1, "hello", 201, null), DomainError);
  });

  it("is bounded like the store: a chat's oldest messages leave the index", async () => {
    const search = new MemorySearchIndex({ maxMessagesPerChat: 2 });
    await search.index([1, 2, 3].map((n) => message("app", 1, n, "same words")));
    const { hits } = await search.search("app", 1, "same", 10, null);
    assert.deepEqual(hits.map((h) => h.number), [3, 2]);
  });

  it("matches only the first 16 query words, each cut to 64 characters, like the Elasticsearch adapter", async () => {
    const search = new MemorySearchIndex();
    const long = "x".repeat(70);
    await search.index([message("app", 1, 1, `w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16 ${long}`)]);
    const many = Array.from({ length: 16 }, (_, i) => `w${i + 1}`).join(" ");
    assert.equal((await search.search("app", 1, `${many} absent`, 10, null)).hits.length, 1, "the 17th word is ignored");
    assert.equal((await search.search("app", 1, `${"x".repeat(64)}yyy`, 10, null)).hits.length, 1, "cut to 64");
  });
});

describe("NumberedLog", () => {
  it("agrees with a sorted-array model under random inserts, deletes and shifts", () => {
    const log = new NumberedLog<{ number: number; v: number }>();
    const model = new Map<number, number>();
    const numbers = shuffled(Array.from({ length: 3000 }, (_, i) => i + 1), 99);
    let step = 0;
    for (const n of numbers) {
      step += 1;
      assert.equal(log.set({ number: n, v: step }), !model.has(n));
      model.set(n, step);
      if (step % 7 === 0) {
        const victim = numbers[Math.floor((((step * 2654435761) >>> 0) / 4294967296) * step)]!; // an earlier insert
        assert.equal(log.delete(victim)?.number, model.has(victim) ? victim : undefined);
        model.delete(victim);
      }
      if (step % 5 === 0) {
        const lowest = Math.min(...model.keys());
        assert.equal(log.shift()?.number, lowest);
        model.delete(lowest);
      }
    }
    const sorted = [...model.keys()].sort((a, b) => a - b);
    assert.equal(log.size, sorted.length);
    assert.deepEqual([...log.values()].map((i) => i.number), sorted);
    assert.deepEqual(log.ascending(1000, 1200, 1000).map((i) => i.number), sorted.filter((n) => n > 1000 && n < 1200));
    assert.deepEqual(log.descending(1000, 1200, 5).map((i) => i.number), sorted.filter((n) => n > 1000 && n < 1200).reverse().slice(0, 5));
    assert.equal(log.lowest()?.number, sorted[0]);
    assert.equal(log.highest()?.number, sorted[sorted.length - 1]);
    for (const n of sorted) assert.equal(log.get(n)?.v, model.get(n));
  });
});

// eventually is part of the shared helpers; keep one direct use so a change to it is noticed here too.
describe("contract helpers", () => {
  it("eventually rethrows the last assertion failure at the deadline", async () => {
    await assert.rejects(
      eventually(() => assert.equal(1, 2), { timeoutMs: 30, what: "never" }),
      (err: unknown) => err instanceof assert.AssertionError && err.message.startsWith("never:"),
    );
  });
});
