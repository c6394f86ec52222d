import type { Bus } from "../ports/bus.js";
import type { WorkerHeartbeats } from "../ports/heartbeats.js";
import type { LeaseLock } from "../ports/lock.js";
import type { WriteConsumer, WriteQueue } from "../ports/queue.js";
import type { ChatLog } from "../ports/chat-log.js";
import type { Presence } from "../ports/presence.js";
import type { RecentReadMarkers } from "../ports/read-markers.js";
import type { RecentChats } from "../ports/recent-chats.js";
import type { SearchIndex } from "../ports/search.js";
import type { Sequencer } from "../ports/sequencer.js";
import type { Store } from "../ports/store.js";
import type { ReadinessCheck } from "../transport/http/http-server.js";

/** One adapter per port, chosen by configuration (cluster or embedded). */
export interface Backends {
  store: Store;
  sequencer: Sequencer;
  /** Writes to persist and index: each published batch reaches both consumers below. */
  queue: WriteQueue;
  chatLog: ChatLog;
  recentChats: RecentChats;
  readMarkers: RecentReadMarkers;
  presence: Presence;
  bus: Bus;
  search: SearchIndex;
  lock: LeaseLock;
  heartbeats: WorkerHeartbeats;
  /** Every published batch, for the store. */
  writeConsumer(): WriteConsumer;
  /** Every published batch again, for the search index. */
  indexConsumer(): WriteConsumer;
  readiness: ReadinessCheck[];
  close(): Promise<void>;
}
