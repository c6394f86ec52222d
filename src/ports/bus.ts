/** Cross-process fanout of realtime events, per channel (Redis pub/sub). At most once: see onReconnect. */
export interface Bus {
  publish(channel: string, payload: Uint8Array): Promise<void>;
  /** Subscribes this process to a channel; resolves once every later publish reaches this process. */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Adds a handler; every handler gets every message of the subscribed channels. */
  onMessage(handler: (channel: string, payload: Uint8Array) => void): void;
  /** Adds a handler called after the connection to the bus broke and every
   * channel is subscribed again: what was published in between was lost. */
  onReconnect(handler: () => void): void;
  close(): Promise<void>;
}
