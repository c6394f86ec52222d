import { UnavailableError } from "../domain/errors.js";
import { PoisonBatchError, type WriteConsumer } from "../ports/queue.js";
import type { SearchIndex } from "../ports/search.js";

/** Bulk-indexes the message writes of every published batch (it gets the same
 * batches as the write worker, from its own queue). A batch the index could not take for now is
 * retried; one it rejected for good goes to the dead-letter queue. The index
 * is ensured on the first batch, inside that retry, so a worker starts (and
 * persists to MySQL) while Elasticsearch is away. */
export class IndexWorker {
  private ensured = false;

  constructor(
    private readonly consumer: WriteConsumer,
    private readonly search: SearchIndex,
  ) {}

  async start(): Promise<void> {
    await this.consumer.start(async (batch) => {
      // A deletion indexes its tombstone (an empty body, which no search matches).
      const messages = batch.flatMap((e) => (e.kind === "message" || e.kind === "message_deleted" ? [e.message] : []));
      if (messages.length === 0) return;
      try {
        if (!this.ensured) {
          await this.search.ensure();
          this.ensured = true;
        }
        await this.search.index(messages);
      } catch (err) {
        if (err instanceof UnavailableError) throw err;
        throw new PoisonBatchError("the search index rejected this batch", { cause: err });
      }
    });
  }

  close(): Promise<void> {
    return this.consumer.close();
  }
}
