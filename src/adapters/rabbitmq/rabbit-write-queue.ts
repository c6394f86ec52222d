import type { ConfirmChannel } from "amqplib";
import { pack } from "msgpackr";
import type { WriteEvent } from "../../domain/types.js";
import type { Backlog, WriteQueue } from "../../ports/queue.js";
import type { RabbitConnection } from "./rabbit-connection.js";
import { assertWriteTopology, type WriteTopology } from "./topology.js";

/** Most events one AMQP message carries when publishes are coalesced. */
const MAX_EVENTS_PER_MESSAGE = 2000;

interface PendingPublish {
  events: WriteEvent[];
  /** Confirmed by then, or failed: counter recovery relies on no publish outliving it. */
  deadline: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Publishes persistent msgpack batches to the write exchange (see topology.ts)
 * and resolves on the broker's confirm, which comes once every bound queue
 * holds the message.
 * Publishes made in the same event-loop turn (one per chat that flushed) are
 * coalesced into one AMQP message, so the broker's work grows with turns, not
 * with chats; each caller still resolves only on that message's confirm.
 */
export class RabbitWriteQueue implements WriteQueue {
  private channel: Promise<ConfirmChannel> | null = null;
  private pending: PendingPublish[] = [];

  constructor(
    private readonly connection: RabbitConnection,
    private readonly topology: WriteTopology,
    private readonly confirmTimeoutMs: number,
  ) {
    connection.onBroken(() => {
      this.channel = null;
    });
  }

  publish(events: WriteEvent[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ events, deadline: Date.now() + this.confirmTimeoutMs, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => void this.sendPending());
    });
  }

  private async sendPending(): Promise<void> {
    let publishes = this.pending;
    this.pending = [];
    let channel: ConfirmChannel;
    try {
      channel = await this.open();
    } catch (err) {
      for (const p of publishes) p.reject(err as Error);
      return;
    }
    // Opening the channel (after a reconnect) counts against each publish's
    // deadline: one past it has been answered 503 and must never be sent late.
    const now = Date.now();
    for (const p of publishes) if (p.deadline <= now) p.reject(new Error("publish confirm timed out"));
    publishes = publishes.filter((p) => p.deadline > now);
    // Split so one AMQP message stays bounded; a caller's events stay together.
    const groups: PendingPublish[][] = [[]];
    let size = 0;
    for (const p of publishes) {
      if (size > 0 && size + p.events.length > MAX_EVENTS_PER_MESSAGE) {
        groups.push([]);
        size = 0;
      }
      groups[groups.length - 1]!.push(p);
      size += p.events.length;
    }
    for (const group of groups) if (group.length > 0) this.send(channel, group);
  }

  private send(channel: ConfirmChannel, group: PendingPublish[]): void {
    const settle = (err: Error | null): void => {
      clearTimeout(timer);
      for (const p of group) {
        if (err) p.reject(err);
        else p.resolve();
      }
    };
    const timer = setTimeout(() => settle(new Error("publish confirm timed out")), Math.max(0, Math.min(...group.map((p) => p.deadline)) - Date.now()));
    const body = pack(group.length === 1 ? group[0]!.events : group.flatMap((p) => p.events));
    try {
      channel.publish(this.topology.exchange, "", body, { persistent: true, contentType: "application/msgpack" }, (err) =>
        settle(err ? (err instanceof Error ? err : new Error("publish nacked by broker")) : null),
      );
    } catch (err) {
      settle(err as Error); // the channel closed under us
    }
  }

  async backlog(): Promise<Backlog> {
    const channel = await this.open();
    const { messageCount, consumerCount } = await channel.checkQueue(this.topology.persist);
    return { waiting: messageCount, consumers: consumerCount };
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
        // Before the first publish: a fanout exchange drops (and still confirms) what no queue is bound to take.
        await assertWriteTopology(channel, this.topology, this.connection.queueType);
        return channel;
      })
      .catch((err: unknown) => {
        this.channel = null;
        throw err;
      });
    return this.channel;
  }
}
