// Every port contract against the embedded (in-memory) adapters. The cluster
// adapters run the same contract functions in cluster.test.ts.

import { MemoryBroker } from "../../src/adapters/memory/memory-broker.js";
import { MemoryBusHub } from "../../src/adapters/memory/memory-bus-hub.js";
import { MemoryBus } from "../../src/adapters/memory/memory-bus.js";
import { MemoryChatLog } from "../../src/adapters/memory/memory-chat-log.js";
import { MemoryWriteConsumer } from "../../src/adapters/memory/memory-consumer.js";
import { MemoryWorkerHeartbeats } from "../../src/adapters/memory/memory-heartbeats.js";
import { MemoryLeaseLock, type Lease } from "../../src/adapters/memory/memory-lock.js";
import { MemoryWriteQueue } from "../../src/adapters/memory/memory-queue.js";
import { MemoryPresence } from "../../src/adapters/memory/memory-presence.js";
import { MemoryReadMarkers } from "../../src/adapters/memory/memory-read-markers.js";
import { MemoryRecentChats } from "../../src/adapters/memory/memory-recent-chats.js";
import { MemorySearchIndex } from "../../src/adapters/memory/memory-search.js";
import { MemorySequencer } from "../../src/adapters/memory/memory-sequencer.js";
import { MemoryStore } from "../../src/adapters/memory/memory-store.js";
import { busContract } from "../support/contract-bus.js";
import { chatLogContract } from "../support/contract-chat-log.js";
import { heartbeatsContract } from "../support/contract-heartbeats.js";
import { lockContract } from "../support/contract-lock.js";
import { queueContract } from "../support/contract-queue.js";
import { presenceContract } from "../support/contract-presence.js";
import { readMarkersContract } from "../support/contract-read-markers.js";
import { recentChatsContract } from "../support/contract-recent.js";
import { searchContract } from "../support/contract-search.js";
import { sequencerContract } from "../support/contract-sequencer.js";
import { storeContract } from "../support/contract-store.js";

const nothing = async (): Promise<void> => {};

storeContract("memory", async () => {
  const store = new MemoryStore();
  return {
    store,
    corruptCount: async (app, chat, value) => store.setCountForTesting(app, chat, value),
    cleanup: () => store.close(),
  };
});

sequencerContract("memory", async () => {
  const sequencer = new MemorySequencer();
  return { sequencer, loseState: async () => sequencer.loseState(), cleanup: nothing };
});

queueContract("memory", async () => {
  const broker = new MemoryBroker();
  const indexing = new MemoryBroker();
  return {
    queue: new MemoryWriteQueue(broker, indexing),
    consumer: new MemoryWriteConsumer(broker, { minBackoffMs: 5 }),
    indexConsumer: new MemoryWriteConsumer(indexing, { minBackoffMs: 5 }),
    cleanup: nothing,
  };
});

chatLogContract("memory", async () => {
  // One sequencer holds the chat and message counters, as one Redis server does;
  // the log publishes on one bus of the hub and the test listens on another.
  const sequencer = new MemorySequencer();
  const hub = new MemoryBusHub();
  const publisher = new MemoryBus(hub);
  const bus = new MemoryBus(hub);
  return {
    sequencer,
    chatLog: new MemoryChatLog(sequencer, publisher, { keep: 20, maxChats: 100 }),
    bus,
    maxPerChat: 20,
    loseState: async () => sequencer.loseState(),
    cleanup: async () => {
      await bus.close();
      await publisher.close();
    },
  };
});

recentChatsContract("memory", async () => ({ recentChats: new MemoryRecentChats({ maxPerApp: 20 }), maxPerApp: 20, cleanup: nothing }));

readMarkersContract("memory", async () => ({ markers: new MemoryReadMarkers(), cleanup: nothing }));

presenceContract("memory", async () => ({ presence: new MemoryPresence(), cleanup: nothing }));

busContract("memory", async () => {
  const hub = new MemoryBusHub();
  const a = new MemoryBus(hub);
  const b = new MemoryBus(hub);
  return {
    a,
    b,
    cleanup: async () => {
      await a.close();
      await b.close();
    },
  };
});

lockContract("memory", async () => {
  const leases = new Map<string, Lease>();
  return { a: new MemoryLeaseLock(leases), b: new MemoryLeaseLock(leases), cleanup: nothing };
});

heartbeatsContract("memory", async () => ({ heartbeats: new MemoryWorkerHeartbeats(), cleanup: nothing }));

searchContract("memory", async () => {
  const search = new MemorySearchIndex();
  return { search, cleanup: () => search.close() };
});
