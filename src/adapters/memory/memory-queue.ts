import type { WriteEvent } from "../../domain/types.js";
import type { Backlog, WriteQueue } from "../../ports/queue.js";
import type { MemoryBroker } from "./memory-broker.js";

/**
 * Embedded-mode WriteQueue. "Confirmed" means handed to the in-process broker
 * (there is no disk in embedded mode); a full broker rejects the publish, which
 * the domain answers with 503 rather than growing memory without bound.
 */
export class MemoryWriteQueue implements WriteQueue {
  private closed = false;

  constructor(private readonly broker: MemoryBroker) {}

  async publish(events: WriteEvent[]): Promise<void> {
    if (this.closed) throw new Error("write queue is closed");
    if (events.length === 0) return;
    this.broker.enqueue(events);
  }

  async backlog(): Promise<Backlog> {
    return { waiting: this.broker.waiting, consumers: this.broker.consumers };
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error("write queue is closed");
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
