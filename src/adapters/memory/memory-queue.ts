import type { WriteEvent } from "../../domain/types.js";
import type { Backlog, WriteQueue } from "../../ports/queue.js";
import type { MemoryBroker } from "./memory-broker.js";

/**
 * Embedded-mode WriteQueue: each publish goes to every broker given (the
 * persisting one first, whose backlog counter recovery waits on), as the
 * RabbitMQ fanout exchange does. "Confirmed" means handed to the in-process
 * brokers (there is no disk in embedded mode); a full broker rejects the
 * publish, which the domain answers with 503 rather than growing memory
 * without bound.
 */
export class MemoryWriteQueue implements WriteQueue {
  private closed = false;
  private readonly brokers: readonly MemoryBroker[];

  constructor(persist: MemoryBroker, ...others: MemoryBroker[]) {
    this.brokers = [persist, ...others];
  }

  async publish(events: WriteEvent[]): Promise<void> {
    if (this.closed) throw new Error("write queue is closed");
    if (events.length === 0) return;
    // All or none: a batch one consumer got and the other never will is a lost write there.
    if (this.brokers.some((b) => b.full)) throw new Error("write queue is full");
    for (const broker of this.brokers) broker.enqueue(events);
  }

  async backlog(): Promise<Backlog> {
    const persist = this.brokers[0]!;
    return { waiting: persist.waiting, consumers: persist.consumers };
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error("write queue is closed");
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
