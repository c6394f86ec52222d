import type { WriteEvent } from "../../domain/types.js";

/** One published batch, from enqueue until a consumer acknowledges it. */
export interface BrokerEntry {
  readonly events: WriteEvent[];
}

/**
 * The in-process stand-in for the RabbitMQ queue that MemoryWriteQueue
 * publishes to and MemoryWriteConsumer consumes from: a bounded FIFO of event
 * batches. A taken batch stays counted (in flight) until acked; a requeued one
 * goes back to the front, so nothing is ever lost and order is kept.
 */
export class MemoryBroker {
  private ready: BrokerEntry[] = [];
  private readyHead = 0;
  private held = 0;
  private listeners: (() => void)[] = [];

  /** @param maxBatches batches held at most (waiting plus in flight); a publish past it fails. */
  constructor(readonly maxBatches = 100_000) {
    if (!(maxBatches >= 1)) throw new RangeError("maxBatches must be at least 1");
  }

  /** Batches waiting or in flight. */
  get pending(): number {
    return this.ready.length - this.readyHead + this.held;
  }

  get inFlight(): number {
    return this.held;
  }

  /** Batches waiting for a consumer. */
  get waiting(): number {
    return this.ready.length - this.readyHead;
  }

  /** Consumers attached (started and not closed). */
  consumers = 0;

  /** No room for another batch. */
  get full(): boolean {
    return this.pending >= this.maxBatches;
  }

  enqueue(events: WriteEvent[]): void {
    if (this.full) throw new Error("write queue is full");
    this.ready.push({ events: structuredClone(events) });
    this.notify();
  }

  /** The oldest waiting batch, now in flight; undefined when none waits. */
  take(): BrokerEntry | undefined {
    if (this.readyHead >= this.ready.length) return undefined;
    const entry = this.ready[this.readyHead]!;
    this.readyHead += 1;
    if (this.readyHead === this.ready.length) {
      this.ready = [];
      this.readyHead = 0;
    } else if (this.readyHead >= 1024 && this.readyHead * 2 >= this.ready.length) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
    this.held += 1;
    return entry;
  }

  ack(_entry: BrokerEntry): void {
    this.held -= 1;
  }

  /** Batches a handler rejected for good, newest last (bounded, for inspection). */
  readonly dead: WriteEvent[][] = [];

  deadLetter(entry: BrokerEntry): void {
    this.held -= 1;
    this.deadLetterEvents(entry.events);
  }

  /** Events parked without a batch of their own (the rest of their batch applied). */
  deadLetterEvents(events: WriteEvent[]): void {
    this.dead.push(events);
    if (this.dead.length > 1000) this.dead.shift();
  }

  /** Puts an unacknowledged batch back at the front. */
  requeue(entry: BrokerEntry): void {
    this.held -= 1;
    if (this.readyHead > 0) {
      this.readyHead -= 1;
      this.ready[this.readyHead] = entry;
    } else {
      this.ready.unshift(entry);
    }
    this.notify();
  }

  /** Calls `listener` once, at the next enqueue or requeue. */
  onReady(listener: () => void): void {
    this.listeners.push(listener);
  }

  private notify(): void {
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }
}
