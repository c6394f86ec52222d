import type { WriteEvent } from "../../domain/types.js";
import { PoisonBatchError, type WriteConsumer } from "../../ports/queue.js";
import type { BrokerEntry, MemoryBroker } from "./memory-broker.js";

export interface MemoryWriteConsumerOptions {
  /** First retry delay after the handler failed; doubles up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Told about each handler failure (the batch is kept and retried). */
  onError?: (err: unknown, attempt: number) => void;
}

/**
 * Embedded-mode WriteConsumer: hands the broker's batches to the handler one
 * at a time, in order. A batch is acked only when the handler resolved; when it
 * throws, the same batch is retried after a backoff, never dropped and never
 * overtaken. On close an unacknowledged batch goes back to the broker.
 */
export class MemoryWriteConsumer implements WriteConsumer {
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly onError: (err: unknown, attempt: number) => void;
  private held: BrokerEntry | null = null;
  private loop: Promise<void> | null = null;
  private closed = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly broker: MemoryBroker,
    options: MemoryWriteConsumerOptions = {},
  ) {
    this.minBackoffMs = options.minBackoffMs ?? 25;
    this.maxBackoffMs = options.maxBackoffMs ?? 2_000;
    this.onError = options.onError ?? (() => {});
  }

  async start(handler: (batch: WriteEvent[]) => Promise<void>): Promise<void> {
    if (this.loop) throw new Error("consumer already started");
    if (this.closed) throw new Error("consumer is closed");
    this.broker.consumers += 1;
    this.loop = this.run(handler);
  }

  inFlight(): number {
    return this.held ? 1 : 0;
  }

  async deadLetter(events: WriteEvent[]): Promise<void> {
    this.broker.deadLetterEvents(structuredClone(events));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.loop) this.broker.consumers -= 1;
    this.wake?.();
    await this.loop;
  }

  private async run(handler: (batch: WriteEvent[]) => Promise<void>): Promise<void> {
    while (!this.closed) {
      const entry = this.broker.take();
      if (!entry) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.broker.onReady(resolve);
        });
        this.wake = null;
        continue;
      }
      this.held = entry;
      let delay = this.minBackoffMs;
      for (let attempt = 1; ; attempt++) {
        try {
          await handler(structuredClone(entry.events));
          this.broker.ack(entry);
          break;
        } catch (err) {
          this.onError(err, attempt);
          if (err instanceof PoisonBatchError) {
            this.broker.deadLetter(entry);
            break;
          }
          if (this.closed) {
            this.broker.requeue(entry);
            break;
          }
          await this.pause(delay);
          delay = Math.min(delay * 2, this.maxBackoffMs);
          if (this.closed) {
            this.broker.requeue(entry);
            break;
          }
        }
      }
      this.held = null;
    }
  }

  /** Waits `ms`, or less if the consumer is closed meanwhile. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => {
      this.wake = null;
    });
  }
}
