import type { WriteEvent } from "../domain/types.js";

/** The durable write path to the worker (RabbitMQ in cluster mode). */
export interface WriteQueue {
  /** Resolves only once the broker confirmed the events durable. */
  publish(events: WriteEvent[]): Promise<void>;
  /** Writes waiting in the queue, and the consumers (workers) attached to it.
   * Writes a worker holds unacked are not counted; WorkerHeartbeats reports those. */
  backlog(): Promise<Backlog>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface Backlog {
  waiting: number;
  consumers: number;
}

export interface Delivery {
  events: WriteEvent[];
}

/** Thrown by a handler when retrying cannot help: the batch is dead-lettered
 * (kept for inspection) instead of being retried forever. */
export class PoisonBatchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PoisonBatchError";
  }
}

/** Worker side: batches of deliveries; the handler's success acks them all,
 * any other failure retries them with backoff. */
export interface WriteConsumer {
  start(handler: (batch: WriteEvent[]) => Promise<void>): Promise<void>;
  /** Deliveries currently held (received, not yet acked). */
  inFlight(): number;
  /** Parks events that can never apply in the dead-letter queue, durably,
   * so a batch can be acked without losing them. */
  deadLetter(events: WriteEvent[]): Promise<void>;
  close(): Promise<void>;
}
