import type { ConfirmChannel, ConsumeMessage } from "amqplib";
import { pack, unpack } from "msgpackr";
import { parseWriteEvents } from "../../domain/write-event-schema.js";
import type { WriteEvent } from "../../domain/types.js";
import { PoisonBatchError, type WriteConsumer } from "../../ports/queue.js";
import type { RabbitConnection } from "./rabbit-connection.js";
import { assertWriteTopology, type WriteTopology } from "./topology.js";

export interface ConsumerOptions {
  prefetch: number;
  /** How long the first delivery of a batch waits for more to join it. */
  batchMs: number;
  onError: (err: unknown) => void;
}

/**
 * Collects deliveries into batches (up to `prefetch`, or `batchMs` after the
 * first), hands each batch to the handler, and acks only after it succeeded.
 * A failed batch is retried with backoff and never acked as done; a message
 * that does not decode is dead-lettered alone and blocks nothing.
 */
export class RabbitWriteConsumer implements WriteConsumer {
  private channel: ConfirmChannel | null = null;
  private buffer: { message: ConsumeMessage; events: WriteEvent[] }[] = [];
  private processing = 0;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private handler: ((batch: WriteEvent[]) => Promise<void>) | null = null;
  private closed = false;
  private failures = 0;
  private readonly queue: string;

  constructor(
    private readonly connection: RabbitConnection,
    private readonly topology: WriteTopology,
    role: "persist" | "index",
    private readonly options: ConsumerOptions,
  ) {
    this.queue = topology[role];
  }

  async start(handler: (batch: WriteEvent[]) => Promise<void>): Promise<void> {
    this.handler = handler;
    this.connection.onBroken(() => void this.restart());
    await this.open();
  }

  inFlight(): number {
    return this.buffer.length + this.processing;
  }

  async deadLetter(events: WriteEvent[]): Promise<void> {
    const channel = this.channel;
    if (!channel) throw new Error("the consumer's channel is closed");
    await new Promise<void>((resolve, reject) =>
      channel.sendToQueue(`${this.queue}.dead`, pack(events), { persistent: true, contentType: "application/msgpack" }, (err) =>
        err ? reject(err instanceof Error ? err : new Error("dead-letter publish nacked")) : resolve(),
      ),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.flushing;
    await this.channel?.close().catch(() => undefined);
  }

  private async open(): Promise<void> {
    // A confirm channel, so dead-lettered events are durable before their batch is acked.
    const channel = await this.connection.confirmChannel();
    channel.on("error", () => undefined);
    await assertWriteTopology(channel, this.topology, this.connection.queueType);
    await channel.prefetch(this.options.prefetch);
    this.channel = channel;
    await channel.consume(this.queue, (message) => message && this.receive(channel, message), { noAck: false });
  }

  /** Reconnects with backoff after the broker went away; unacked work was requeued by it. */
  private async restart(): Promise<void> {
    this.channel = null;
    this.buffer = [];
    for (let delay = 200; !this.closed; delay = Math.min(delay * 2, 5000)) {
      await new Promise((r) => setTimeout(r, delay));
      try {
        await this.open();
        return;
      } catch (err) {
        this.options.onError(err);
      }
    }
  }

  private receive(channel: ConfirmChannel, message: ConsumeMessage): void {
    let events: WriteEvent[];
    try {
      events = parseWriteEvents(unpack(message.content));
    } catch {
      channel.nack(message, false, false); // to the dead-letter queue
      return;
    }
    this.buffer.push({ message, events });
    if (this.buffer.length >= this.options.prefetch) this.scheduleFlush(0);
    else this.scheduleFlush(this.options.batchMs);
  }

  private scheduleFlush(delayMs: number): void {
    if (this.timer && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flushing = this.flushing.then(() => this.flush());
    }, delayMs);
  }

  private async flush(): Promise<void> {
    const channel = this.channel;
    const batch = this.buffer;
    this.buffer = [];
    if (!channel || batch.length === 0 || !this.handler) return;
    this.processing = batch.length;
    try {
      for (;;) {
        try {
          await this.handler(batch.flatMap((b) => b.events));
          this.failures = 0;
          // One frame for the whole batch (an ack each was a socket write each):
          // it settles every delivery up to the last one's tag, and the batch
          // holds every unsettled delivery of this channel below that tag —
          // later ones arrived after it was cut, undecodable ones were nacked.
          channel.ack(batch[batch.length - 1]!.message, true);
          return;
        } catch (err) {
          this.options.onError(err);
          if (this.closed || this.channel !== channel) return; // broker requeues them
          if (err instanceof PoisonBatchError) {
            for (const { message } of batch) channel.nack(message, false, false); // to the dead-letter queue
            return;
          }
          this.failures++;
          await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** this.failures, 5000)));
        }
      }
    } finally {
      this.processing = 0;
    }
  }
}
