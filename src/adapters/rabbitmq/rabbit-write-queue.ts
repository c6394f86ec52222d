import type { ConfirmChannel } from "amqplib";
import { pack } from "msgpackr";
import type { WriteEvent } from "../../domain/types.js";
import type { WriteQueue } from "../../ports/queue.js";
import type { RabbitConnection } from "./rabbit-connection.js";
import { assertQueueWithDeadLetter } from "./topology.js";

/** Publishes persistent msgpack batches and resolves on the broker's confirm. */
export class RabbitWriteQueue implements WriteQueue {
  private channel: Promise<ConfirmChannel> | null = null;

  constructor(
    private readonly connection: RabbitConnection,
    private readonly queue: string,
    private readonly confirmTimeoutMs: number,
  ) {
    connection.onBroken(() => {
      this.channel = null;
    });
  }

  async publish(events: WriteEvent[]): Promise<void> {
    const channel = await this.open();
    const body = pack(events);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("publish confirm timed out")), this.confirmTimeoutMs);
      channel.sendToQueue(this.queue, body, { persistent: true, contentType: "application/msgpack" }, (err) => {
        clearTimeout(timer);
        if (err) reject(err instanceof Error ? err : new Error("publish nacked by broker"));
        else resolve();
      });
    });
  }

  async drained(): Promise<boolean> {
    const channel = await this.open();
    const { messageCount } = await channel.checkQueue(this.queue);
    return messageCount === 0;
  }

  async ping(): Promise<void> {
    await this.open();
  }

  async close(): Promise<void> {
    const channel = await this.channel?.catch(() => null);
    this.channel = null;
    await channel?.close().catch(() => undefined);
  }

  private open(): Promise<ConfirmChannel> {
    this.channel ??= this.connection
      .confirmChannel()
      .then(async (channel) => {
        channel.on("error", () => undefined);
        channel.on("close", () => {
          this.channel = null;
        });
        await assertQueueWithDeadLetter(channel, this.queue);
        return channel;
      })
      .catch((err: unknown) => {
        this.channel = null;
        throw err;
      });
    return this.channel;
  }
}
