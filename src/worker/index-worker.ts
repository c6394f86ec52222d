import type { WriteConsumer } from "../ports/queue.js";
import type { SearchIndex } from "../ports/search.js";

/** Bulk-indexes message writes; a failed batch stays unacked and is retried. */
export class IndexWorker {
  constructor(
    private readonly consumer: WriteConsumer,
    private readonly search: SearchIndex,
  ) {}

  async start(): Promise<void> {
    await this.consumer.start(async (batch) => {
      const messages = batch.flatMap((e) => (e.kind === "message" ? [e.message] : []));
      if (messages.length > 0) await this.search.index(messages);
    });
  }

  close(): Promise<void> {
    return this.consumer.close();
  }
}
