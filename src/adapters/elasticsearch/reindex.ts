// Rebuilds the search index from the durable store (the `reindex` command): load a
// new `<alias>-v<N+1>` next to the live one, then swap the alias in one atomic
// step. Searches keep answering from the old index until the swap.
//
// Writes that arrive while the rebuild runs. The store scan is a snapshot per
// page, so a message persisted (or edited) after the scan passed its key would
// be missing from the new index if writes only went to the old one through the
// alias. Two ways out were considered:
//
//  - re-scan after the swap: another full pass over the store, and until it
//    finishes the live alias points at an index that lacks those writes, so a
//    message can be unsearchable for minutes (the promise: within 2 s);
//  - write to both (chosen): the new index carries a second alias,
//    `<alias>-building`, for exactly as long as the rebuild runs, and
//    `index()` writes every batch to the main alias and, when it exists, to the
//    building alias too. No write is lost and nothing is ever missing after the
//    swap. Why no race: the worker persists before it indexes, and the building
//    alias exists before the scan starts. A message is either persisted before
//    the scan reads its key (the scan carries it) or after, and then `index()`
//    checks for the building alias after the alias was created (dual write).
//    Ordering between the scan's copy and a live write does not matter: both
//    carry `version = updatedAt` with `external_gte`, so the newest edit wins
//    whichever arrives last.
//
// The cost of the second: one HEAD per indexed batch, and double writes while a
// rebuild runs.

import type { Client, estypes } from "@elastic/elasticsearch";
import type { Message } from "../../domain/types.js";
import type { MessageKey } from "../../ports/store.js";
import { messageIndexDefinition, type IndexShape } from "./mapping.js";
import {
  BULK_FILTER_PATH,
  BulkIndexError,
  aliasTargets,
  buildingAlias,
  bulkFailures,
  bulkOperations,
  errorType,
  indexVersion,
  isRetriableStatus,
  versionedIndex,
  type ItemFailure,
} from "./shared.js";

export interface ReindexOptions {
  client: Client;
  alias: string;
  /** Every message in a stable order, page by page (`Store.scanMessages`). */
  scan: (after: MessageKey | null, limit: number) => Promise<Message[]>;
  /** Messages per scan page and bulk request. */
  batchSize?: number;
  /** Shards/replicas of the new index (default: 1 shard, 0 replicas). */
  index?: IndexShape;
  /** Called after every loaded page with the running total. */
  onProgress?: (indexed: number) => void;
  /** Attempts per bulk when Elasticsearch pushes back (429/5xx items). */
  maxAttempts?: number;
}

export interface ReindexResult {
  /** Index the alias pointed to before, now deleted (null when there was none). */
  previous: string | null;
  /** Index the alias points to now. */
  current: string;
  indexed: number;
  tookMs: number;
  /** False if the old index could not be deleted (the alias was swapped anyway). */
  previousDeleted: boolean;
}

export class ReindexInProgressError extends Error {
  constructor(alias: string, detail: string) {
    super(`a reindex of ${alias} is already running or was interrupted: ${detail}`);
    this.name = "ReindexInProgressError";
  }
}

export async function reindex(options: ReindexOptions): Promise<ReindexResult> {
  const { client, alias, scan } = options;
  const batchSize = options.batchSize ?? 1000;
  const maxAttempts = options.maxAttempts ?? 5;
  const building = buildingAlias(alias);
  const started = performance.now();

  const currentTargets = await aliasTargets(client, alias);
  if (currentTargets.length > 1) throw new Error(`alias ${alias} points to ${currentTargets.length} indices; expected one`);
  const previous = currentTargets[0] ?? null;
  const buildingTargets = await aliasTargets(client, building);
  if (buildingTargets.length > 0) {
    throw new ReindexInProgressError(alias, `alias ${building} exists (on ${buildingTargets.join(", ")}); if no reindex is running, delete that index`);
  }
  const previousVersion = previous === null ? 0 : indexVersion(alias, previous);
  if (previousVersion === null) throw new Error(`alias ${alias} points to ${previous}, which is not named ${alias}-v<N>`);
  const next = versionedIndex(alias, previousVersion + 1);

  // Creating the index is the lock: two reindexes that read the same alias state
  // race on the same name and exactly one create succeeds. The building alias is
  // created with it, atomically, before any page is scanned.
  const { settings, mappings } = messageIndexDefinition(options.index);
  const finalReplicas = settings.number_of_replicas ?? 0;
  try {
    await client.indices.create({
      index: next,
      // Bulk loading: no periodic refresh, no replica to copy to; both restored below.
      settings: { ...settings, number_of_replicas: 0, refresh_interval: "-1" },
      mappings,
      aliases: { [building]: {} },
    });
  } catch (err) {
    if (errorType(err) === "resource_already_exists_exception") {
      throw new ReindexInProgressError(alias, `index ${next} already exists; if no reindex is running, delete it`);
    }
    throw err;
  }

  let indexed = 0;
  try {
    // Scan the next page while the current one is being indexed.
    let pending = scan(null, batchSize);
    for (;;) {
      const page = await pending;
      if (page.length === 0) break;
      const last = page[page.length - 1]!;
      pending = scan({ app: last.app, chat: last.chat, number: last.number }, batchSize);
      pending.catch(() => {}); // observed by the next await; don't let a load failure leave it unhandled
      await loadPage(client, building, page, maxAttempts);
      indexed += page.length;
      options.onProgress?.(indexed);
    }

    await client.indices.putSettings({
      index: next,
      // null restores the default (1 s, and search-idle shards refresh on demand).
      settings: { number_of_replicas: finalReplicas, refresh_interval: null } as unknown as estypes.IndicesIndexSettings,
    });
    await client.indices.refresh({ index: next });

    // One cluster-state update: every search sees either the old index or the
    // complete new one. `must_exist` makes a concurrent alias change fail the swap
    // instead of leaving the alias on two indices.
    const actions: estypes.IndicesUpdateAliasesAction[] = [];
    if (previous !== null) actions.push({ remove: { index: previous, alias, must_exist: true } });
    actions.push({ add: { index: next, alias } }, { remove: { index: next, alias: building } });
    await client.indices.updateAliases({ actions });
  } catch (err) {
    // Not swapped: the live alias is untouched. Drop the half-built index (and
    // with it the building alias, so writers stop double-writing).
    await client.indices.delete({ index: next }).catch(() => {});
    throw err;
  }

  let previousDeleted = previous === null;
  if (previous !== null) {
    try {
      await client.indices.delete({ index: previous });
      previousDeleted = true;
    } catch {
      previousDeleted = false;
    }
  }
  return { previous, current: next, indexed, tookMs: performance.now() - started, previousDeleted };
}

/** Indexes one page through the building alias; retries only the items
 * Elasticsearch pushed back on, with backoff; throws if any item still failed. */
async function loadPage(client: Client, target: string, page: Message[], maxAttempts: number): Promise<void> {
  let todo = page.map((message, position) => ({ message, position }));
  let failures: ItemFailure[] = [];
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const response = await client.bulk({ operations: bulkOperations(todo.map((t) => t.message), [target]), refresh: false, filter_path: BULK_FILTER_PATH });
    // Positions relative to the page, not to this attempt's subset.
    failures = bulkFailures(response, [target]).map((f) => ({ ...f, position: todo[f.position]?.position ?? f.position }));
    if (failures.length === 0) return;
    if (!failures.every((f) => isRetriableStatus(f.status)) || attempt === maxAttempts) break;
    const retry = new Set(failures.map((f) => f.position));
    todo = todo.filter((t) => retry.has(t.position));
    await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
  }
  throw new BulkIndexError(failures.length, page.length, failures);
}
