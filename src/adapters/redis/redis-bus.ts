import type { Redis } from "ioredis";
import type { Bus } from "../../ports/bus.js";
import type { RedisKeys } from "./keys.js";

/** Redis pub/sub between processes. Subscribing needs its own connection. */
export class RedisBus implements Bus {
  private readonly handlers: ((channel: string, payload: Uint8Array) => void)[] = [];
  private readonly reconnectHandlers: (() => void)[] = [];
  private connectedBefore = false;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly keys: RedisKeys,
  ) {
    const prefix = keys.channel("");
    subscriber.on("messageBuffer", (channel: Buffer, payload: Buffer) => {
      const name = channel.toString().slice(prefix.length);
      for (const handler of this.handlers) handler(name, payload);
    });
    subscriber.on("ready", () => {
      if (!this.connectedBefore) {
        this.connectedBefore = true;
        return;
      }
      // ioredis sends the resubscriptions before "ready" reaches us; a command
      // issued now is answered after them, so once it is, every channel is live again.
      const probe = keys.channel("~reconnected");
      this.subscriber
        .subscribe(probe)
        .then(() => this.subscriber.unsubscribe(probe))
        .then(
          () => {
            for (const handler of this.reconnectHandlers) handler();
          },
          () => undefined, // broke again: the next "ready" retries
        );
    });
  }

  async publish(channel: string, payload: Uint8Array): Promise<void> {
    await this.publisher.publish(this.keys.channel(channel), Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
  }

  async subscribe(channel: string): Promise<void> {
    await this.subscriber.subscribe(this.keys.channel(channel));
  }

  async unsubscribe(channel: string): Promise<void> {
    await this.subscriber.unsubscribe(this.keys.channel(channel));
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
