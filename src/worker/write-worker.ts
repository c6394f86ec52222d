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
    // Each report pairs what the worker holds now with the mark it read on the
    // previous beat, so the count is always taken after the mark was read.
    let mark = 0;
    this.beat = setInterval(() => {
      this.heartbeats.beat(this.workerId, mark, this.consumer.inFlight()).then(
        (current) => (mark = current),
        () => undefined,
      );
    }, HEARTBEAT_MS);
    this.beat.unref();
  }

  async close(): Promise<void> {
    if (this.beat) clearInterval(this.beat);
    await this.consumer.close();
  }

  private async handle(batch: WriteEvent[]): Promise<void> {
    const started = performance.now();
    const { rejected } = await this.store.applyWrites(batch);
    if (rejected.length > 0) {
      // Never silently: a write the API acknowledged must not vanish without a trace.
      await this.consumer.deadLetter(rejected);
      this.log.error({ events: rejected.length }, "writes for an unknown application were dead-lettered");
    }
    this.observer.persisted(batch, Date.now());
    const messages = batch.filter((e) => e.kind === "message" || e.kind === "message_deleted");
    if (messages.length > 0) await this.indexQueue.publish(messages);
    this.log.debug({ events: batch.length, ms: Math.round(performance.now() - started) }, "batch persisted");
  }
}
