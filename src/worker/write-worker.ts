import type { WriteEvent } from "../domain/types.js";
import type { WorkerHeartbeats } from "../ports/heartbeats.js";
import type { WorkerObserver } from "../ports/worker-observer.js";
import type { WriteConsumer, WriteQueue } from "../ports/queue.js";
import type { Store } from "../ports/store.js";
import type { Logger } from "../log.js";

const HEARTBEAT_MS = 250;

/**
 * Persists write batches to the store, then hands message writes to the index
 * queue; the batch is acked only after both. Indexing runs from its own queue
 * so a search outage never holds back MySQL.
 */
export class WriteWorker {
  private beat: NodeJS.Timeout | null = null;

  constructor(
    private readonly consumer: WriteConsumer,
    private readonly store: Store,
    private readonly indexQueue: WriteQueue,
    private readonly heartbeats: WorkerHeartbeats,
    private readonly workerId: string,
    private readonly log: Logger,
    private readonly observer: WorkerObserver,
  ) {}

  async start(): Promise<void> {
    await this.consumer.start((batch) => this.handle(batch));
    this.beat = setInterval(() => {
      this.heartbeats.beat(this.workerId, this.consumer.inFlight()).catch(() => undefined);
    }, HEARTBEAT_MS);
    this.beat.unref();
  }

  async close(): Promise<void> {
    if (this.beat) clearInterval(this.beat);
    await this.consumer.close();
  }

  private async handle(batch: WriteEvent[]): Promise<void> {
    const started = performance.now();
    await this.store.applyWrites(batch);
    this.observer.persisted(batch, Date.now());
    const messages = batch.filter((e) => e.kind === "message");
    if (messages.length > 0) await this.indexQueue.publish(messages);
    this.log.debug({ events: batch.length, ms: Math.round(performance.now() - started) }, "batch persisted");
  }
}
