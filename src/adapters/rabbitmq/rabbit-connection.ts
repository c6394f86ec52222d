import amqp, { type ChannelModel, type ConfirmChannel } from "amqplib";
import type { QueueType } from "./topology.js";

/**
 * One AMQP connection, opened on first use and again after it broke. Callers
 * get a fresh error (and answer 503) while the broker is away; the next call
 * after it returns reconnects.
 */
export class RabbitConnection {
  private model: Promise<ChannelModel> | null = null;
  private readonly onBreak: (() => void)[] = [];

  constructor(
    private readonly url: URL,
    /** The type of every queue declared through this connection. */
    readonly queueType: QueueType = "classic",
  ) {}

  async confirmChannel(): Promise<ConfirmChannel> {
    return (await this.connect()).createConfirmChannel();
  }

  /** Called when the connection breaks, so owners of channels can reopen them. */
  onBroken(listener: () => void): void {
    this.onBreak.push(listener);
  }

  async close(): Promise<void> {
    const model = this.model;
    this.model = null;
    if (model) await (await model.catch(() => null))?.close().catch(() => undefined);
  }

  private connect(): Promise<ChannelModel> {
    if (this.model) return this.model;
    const url = new URL(this.url);
    if (!url.searchParams.has("heartbeat")) url.searchParams.set("heartbeat", "10");
    const connecting: Promise<ChannelModel> = amqp
      // noDelay: amqplib writes a publish above 2 KiB as header then body, and
      // with Nagle on the body waits ~40 ms for the broker's delayed ACK.
      .connect(url.toString(), { timeout: 3000, noDelay: true })
      .then((model: ChannelModel) => {
        const broken = (): void => {
          if (this.model === connecting) this.model = null;
          for (const listener of this.onBreak) listener();
        };
        model.on("close", broken);
        model.on("error", () => undefined); // "close" follows and handles it
        return model;
      })
      .catch((err: unknown) => {
        if (this.model === connecting) this.model = null;
        throw err;
      });
    this.model = connecting;
    return connecting;
  }
}
