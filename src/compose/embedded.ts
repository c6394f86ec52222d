import { MemoryBroker } from "../adapters/memory/memory-broker.js";
import { MemoryBus } from "../adapters/memory/memory-bus.js";
import { MemoryWriteConsumer } from "../adapters/memory/memory-consumer.js";
import { MemoryWorkerHeartbeats } from "../adapters/memory/memory-heartbeats.js";
import { MemoryLeaseLock } from "../adapters/memory/memory-lock.js";
import { MemoryWriteQueue } from "../adapters/memory/memory-queue.js";
import { MemoryRecentCache } from "../adapters/memory/memory-recent.js";
import { MemorySearchIndex } from "../adapters/memory/memory-search.js";
import { MemorySequencer } from "../adapters/memory/memory-sequencer.js";
import { MemoryStore } from "../adapters/memory/memory-store.js";
import type { Config } from "../config.js";
import type { Backends } from "./backends.js";

/**
 * Everything in this process's memory, bounded: the store and the search index
 * keep at most config.embedded messages (oldest dropped first), the recent
 * buffer 64 per chat for 1,024 chats (it only has to cover the in-process
 * worker's lag), the queues 100,000 batches (past that, creates answer 503).
 */
export function embeddedBackends(config: Config): Backends {
  const bounds = { maxMessagesPerChat: config.embedded.maxMessagesPerChat, maxMessagesTotal: config.embedded.maxMessagesTotal };
  const writes = new MemoryBroker();
  const indexing = new MemoryBroker();
  const store = new MemoryStore(bounds);
  return {
    store,
    sequencer: new MemorySequencer(),
    queue: new MemoryWriteQueue(writes),
    indexQueue: new MemoryWriteQueue(indexing),
    recent: new MemoryRecentCache({ maxPerParent: 64, maxParents: 1024 }),
    bus: new MemoryBus(),
    search: new MemorySearchIndex(bounds),
    lock: new MemoryLeaseLock(),
    heartbeats: new MemoryWorkerHeartbeats(),
    writeConsumer: () => new MemoryWriteConsumer(writes),
    indexConsumer: () => new MemoryWriteConsumer(indexing),
    readiness: [{ name: "memory", check: async () => undefined }],
    close: () => store.close(),
  };
}
