import type { WriteEvent } from "../domain/types.js";
import type { WorkerHeartbeats } from "../ports/heartbeats.js";
import type { WorkerObserver } from "../ports/worker-observer.js";
import type { WriteConsumer } from "../ports/queue.js";
import type { Store } from "../ports/store.js";
import type { Logger } from "../log.js";

const HEARTBEAT_MS = 250;

/**
 * Persists write batches to the store and acks them once applied. The same
 * batches reach the index worker through its own queue (one publish feeds
 * both), so a search outage never holds back MySQL.
 */
export class WriteWorker {
  private beat: NodeJS.Timeout | null = null;

  constructor(
    private readonly consumer: WriteConsumer,
    private readonly store: Store,
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
    this.log.debug({ events: batch.length, ms: Math.round(performance.now() - started) }, "batch persisted");
  }
}
