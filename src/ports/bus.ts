/** Cross-process fanout of realtime events, per chat channel (Redis pub/sub). */
export interface Bus {
  publish(channel: string, payload: Uint8Array): Promise<void>;
  /** Subscribes this process to a channel; the first subscription starts delivery. */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Adds a handler; every handler gets every message of the subscribed channels. */
  onMessage(handler: (channel: string, payload: Uint8Array) => void): void;
  close(): Promise<void>;
}
