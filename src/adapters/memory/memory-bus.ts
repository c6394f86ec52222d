import type { Bus } from "../../ports/bus.js";
import { MemoryBusHub, type HubMember } from "./memory-bus-hub.js";

type Handler = (channel: string, payload: Uint8Array) => void;

/**
 * Embedded-mode Bus. Delivers only channels this bus subscribes, always
 * asynchronously and in publish order (like a Redis subscriber connection),
 * each handler getting its own copy of the payload. Subscribing is idempotent;
 * a handler that throws does not stop delivery to the others.
 */
export class MemoryBus implements Bus {
  private readonly channels = new Set<string>();
  private readonly handlers: Handler[] = [];
  private readonly member: HubMember;
  private closed = false;

  constructor(private readonly hub: MemoryBusHub = new MemoryBusHub()) {
    this.member = {
      subscribes: (channel) => this.channels.has(channel),
      deliver: (channel, payload) => this.deliver(channel, payload),
    };
    hub.join(this.member);
  }

  async publish(channel: string, payload: Uint8Array): Promise<void> {
    if (this.closed) throw new Error("bus is closed");
    this.hub.publish(channel, payload.slice());
  }

  async subscribe(channel: string): Promise<void> {
    if (this.closed) throw new Error("bus is closed");
    this.channels.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.channels.delete(channel);
  }

  onMessage(handler: Handler): void {
    this.handlers.push(handler);
  }

  /** An in-process bus never loses its connection. */
  onReconnect(_handler: () => void): void {}

  async close(): Promise<void> {
    this.closed = true;
    this.channels.clear();
    this.hub.leave(this.member);
  }

  private deliver(channel: string, payload: Uint8Array): void {
    queueMicrotask(() => {
      // Checked again at delivery: an unsubscribe right after a publish wins, as in Redis.
      if (!this.channels.has(channel)) return;
      for (const handler of this.handlers) {
        try {
          handler(channel, payload.slice());
        } catch {
          // One subscriber's bug must not starve the others.
        }
      }
    });
  }
}
