import type { Backends } from "../compose/backends.js";
import type { Config } from "../config.js";
import { ElasticsearchSearchIndex } from "../adapters/elasticsearch/elasticsearch-search.js";
import { reindex } from "../adapters/elasticsearch/reindex.js";
import type { Logger } from "../log.js";

/** Rebuilds the search index from MySQL into a new versioned index and swaps the alias. */
export async function runReindex(config: Config, backends: Backends, log: Logger): Promise<void> {
  if (!(backends.search instanceof ElasticsearchSearchIndex)) throw new Error("reindex needs cluster mode");
  const started = Date.now();
  const result = await reindex({
    client: backends.search.client,
    alias: config.searchAlias,
    scan: (after, limit) => backends.store.scanMessages(after, limit),
    onProgress: (indexed: number) => log.info({ indexed }, "reindexing"),
  });
  log.info({ ...result, ms: Date.now() - started }, "reindex complete; alias swapped");
}
