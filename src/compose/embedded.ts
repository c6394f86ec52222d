import { MemoryBroker } from "../adapters/memory/memory-broker.js";
import { MemoryBus } from "../adapters/memory/memory-bus.js";
import { MemoryWriteConsumer } from "../adapters/memory/memory-consumer.js";
import { MemoryWorkerHeartbeats } from "../adapters/memory/memory-heartbeats.js";
import { MemoryLeaseLock } from "../adapters/memory/memory-lock.js";
import { MemoryWriteQueue } from "../adapters/memory/memory-queue.js";
import { MemoryChatLog } from "../adapters/memory/memory-chat-log.js";
import { MemoryPresence } from "../adapters/memory/memory-presence.js";
import { MemoryReadMarkers } from "../adapters/memory/memory-read-markers.js";
import { MemoryRecentChats } from "../adapters/memory/memory-recent-chats.js";
import { MemorySearchIndex } from "../adapters/memory/memory-search.js";
import { MemorySequencer } from "../adapters/memory/memory-sequencer.js";
import { MemoryStore } from "../adapters/memory/memory-store.js";
import type { Config } from "../config.js";
import type { Backends } from "./backends.js";

/**
 * Everything in this process's memory, bounded: the store and the search index
 * keep at most config.embedded messages (oldest dropped first), the recent
 * chat log and recent chats 64 entries for 1,024 chats or applications (they
 * only have to cover the in-process worker's lag), the queues 100,000 batches
 * (past that, creates answer 503).
 */
export function embeddedBackends(config: Config): Backends {
  const bounds = { maxMessagesPerChat: config.embedded.maxMessagesPerChat, maxMessagesTotal: config.embedded.maxMessagesTotal };
  const writes = new MemoryBroker();
  const indexing = new MemoryBroker();
  const store = new MemoryStore(bounds);
  const sequencer = new MemorySequencer(config.idempotencyTtlSeconds * 1000);
  const bus = new MemoryBus();
  return {
    store,
    sequencer,
    chatLog: new MemoryChatLog(sequencer, bus, { keep: 64, maxChats: 1024 }),
    recentChats: new MemoryRecentChats({ maxPerApp: 64, maxApps: 1024 }),
    readMarkers: new MemoryReadMarkers(),
    presence: new MemoryPresence(),
    queue: new MemoryWriteQueue(writes, indexing),
    bus,
    search: new MemorySearchIndex(bounds),
    lock: new MemoryLeaseLock(),
    heartbeats: new MemoryWorkerHeartbeats(),
    writeConsumer: () => new MemoryWriteConsumer(writes),
    indexConsumer: () => new MemoryWriteConsumer(indexing),
    readiness: [{ name: "memory", check: async () => undefined }],
    close: () => store.close(),
  };
}
