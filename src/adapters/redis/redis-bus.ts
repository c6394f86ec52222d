import type { Bus } from "../../ports/bus.js";
import type { RedisClient } from "./client.js";
import type { RedisKeys } from "./keys.js";
import { onResubscribed } from "./resubscribed.js";

/**
 * Sharded pub/sub between processes (SPUBLISH/SSUBSCRIBE, Redis 7): a
 * channel's frames travel only within the shard that owns its slot (on one
 * server, that server). Subscribing needs its own client; on a cluster it
 * holds one connection per primary that owns a subscribed channel.
 */
export class RedisBus implements Bus {
  private readonly handlers: ((channel: string, payload: Uint8Array) => void)[] = [];
  private readonly reconnectHandlers: (() => void)[] = [];

  constructor(
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    subscriber.on("smessageBuffer", (channel: Buffer, payload: Buffer) => {
      const name = keys.channelName(channel.toString());
      if (name === null) return;
      for (const handler of this.handlers) handler(name, payload);
    });
    onResubscribed(subscriber, keys, () => {
      for (const handler of this.reconnectHandlers) handler();
    });
  }

  async publish(channel: string, payload: Uint8Array): Promise<void> {
    await this.publisher.spublish(this.keys.channel(channel), Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
  }

  async subscribe(channel: string): Promise<void> {
    await this.subscriber.ssubscribe(this.keys.channel(channel));
  }

  async unsubscribe(channel: string): Promise<void> {
    await this.subscriber.sunsubscribe(this.keys.channel(channel));
  }

  onMessage(handler: (channel: string, payload: Uint8Array) => void): void {
    this.handlers.push(handler);
  }

  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }
}
