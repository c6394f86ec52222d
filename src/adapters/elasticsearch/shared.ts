// Pieces shared by the search adapter and the reindex command: index naming,
// the bulk request both send, how bulk item failures are judged, and how client
// errors become domain errors.

import { errors, type Client, type estypes } from "@elastic/elasticsearch";
import { DomainError, UnavailableError } from "../../domain/errors.js";
import type { Message } from "../../domain/types.js";
import type { MessageDocument } from "./mapping.js";

/** `<alias>-v<N>`: the concrete index behind the alias. */
export const versionedIndex = (alias: string, version: number): string => `${alias}-v${version}`;

/** Parses N out of `<alias>-v<N>`; null for any other name. */
export function indexVersion(alias: string, index: string): number | null {
  const prefix = `${alias}-v`;
  if (!index.startsWith(prefix)) return null;
  const rest = index.slice(prefix.length);
  return /^[1-9][0-9]{0,8}$/.test(rest) ? Number(rest) : null;
}

/**
 * Second alias that exists only while `reindex` loads a new index: it points at
 * that index, and `index()` writes to it as well as to the main alias, so a write
 * that lands during the rebuild reaches the new index too.
 */
export const buildingAlias = (alias: string): string => `${alias}-building`;

/** Internal document id; never leaves the process. App tokens are URL-safe (no ':'). */
export const documentId = (m: Pick<Message, "app" | "chat" | "number">): string => `${m.app}:${m.chat}:${m.number}`;

/** Routing key: all messages of a chat on one shard. */
export const chatRouting = (app: string, chat: number): string => `${app}:${chat}`;

export function toDocument(m: Message): MessageDocument {
  const sender = m.sender ? { id: m.sender.id, name: m.sender.name } : null;
  return { app: m.app, chat: m.chat, number: m.number, body: m.body, created_at: m.createdAt, updated_at: m.updatedAt, sender };
}

/** External versions must be whole numbers in [0, 2^63); epoch ms always are. */
export function assertIndexable(m: Message, position: number): void {
  if (!Number.isSafeInteger(m.updatedAt) || m.updatedAt < 0) {
    throw new Error(`message at position ${position} has an invalid updatedAt (must be a non-negative integer)`);
  }
}

/**
 * The bulk body: one `index` action per message and target. The document's
 * external version is its `updatedAt`, with `external_gte`: a redelivered write
 * (same version) is applied again harmlessly, and an older edit arriving late is
 * rejected by Elasticsearch with a 409 instead of overwriting the newer text.
 * `require_alias`: a write to a missing alias fails instead of auto-creating an
 * index with a dynamic mapping under that name.
 */
export function bulkOperations(messages: readonly Message[], targets: readonly string[]): estypes.BulkRequest["operations"] {
  const ops: NonNullable<estypes.BulkRequest["operations"]> = [];
  messages.forEach((m, position) => {
    assertIndexable(m, position);
    const doc = toDocument(m);
    for (const target of targets) {
      ops.push(
        {
          index: {
            _index: target,
            _id: documentId(m),
            routing: chatRouting(m.app, m.chat),
            version: m.deleted ? TOMBSTONE_VERSION : m.updatedAt,
            version_type: "external_gte",
            require_alias: true,
          },
        },
        doc,
      );
    }
  });
  return ops;
}

/**
 * A deleted message's document (its tombstone: an empty body, which no query
 * matches) takes the highest version there is, so no edit, however late or
 * however versioned, brings its text back.
 */
export const TOMBSTONE_VERSION = 2 ** 62;

/**
 * What `bulkFailures` reads of a bulk response, and all Elasticsearch sends
 * back: a full item (`_index`, `_id`, `_version`, `result`, `_shards`, …) is
 * ~200 bytes per document to serialize on one side and parse on the other.
 * Every item keeps its `status`, so positions still line up with the request.
 */
export const BULK_FILTER_PATH = ["errors", "items.*.status", "items.*.error.type"];

export interface ItemFailure {
  /** Position of the message in the batch passed in (not an id). */
  position: number;
  target: string;
  status: number;
  /** Elasticsearch's error type, e.g. `mapper_parsing_exception`. The reason text is
   * deliberately not kept: it quotes document ids, which hold the app token. */
  type: string;
}

const isVersionConflict = (item: estypes.BulkResponseItem): boolean =>
  item.status === 409 && item.error?.type === "version_conflict_engine_exception";

/**
 * Failed items of a bulk built by `bulkOperations`. A version conflict is not a
 * failure: the index already holds this message at a newer `updatedAt`, which is
 * the state the write wanted to reach. `tolerate` can excuse more (see `index()`).
 */
export function bulkFailures(
  response: estypes.BulkResponse,
  targets: readonly string[],
  tolerate: (item: estypes.BulkResponseItem, target: string) => boolean = () => false,
): ItemFailure[] {
  if (!response.errors) return [];
  const failures: ItemFailure[] = [];
  response.items.forEach((entry, i) => {
    const item = entry.index;
    const target = targets[i % targets.length] ?? "";
    if (item === undefined) {
      failures.push({ position: Math.floor(i / targets.length), target, status: 0, type: "missing_item" });
      return;
    }
    if (item.status < 300 || isVersionConflict(item) || tolerate(item, target)) return;
    failures.push({ position: Math.floor(i / targets.length), target, status: item.status, type: item.error?.type ?? "unknown" });
  });
  return failures;
}

/** Worth retrying later: Elasticsearch was overloaded or a shard was unavailable. */
export const isRetriableStatus = (status: number): boolean => status === 429 || status >= 500;

/** Some documents of a bulk were not indexed and retrying will not help (a poison
 * message): the caller must not treat the batch as done. */
export class BulkIndexError extends Error {
  constructor(
    readonly failed: number,
    readonly total: number,
    readonly failures: ItemFailure[],
  ) {
    const types = [...new Set(failures.map((f) => f.type))].join(", ");
    super(`search index rejected ${failed} of ${total} documents (${types})`);
    this.name = "BulkIndexError";
  }
}

/** Throws unless `failures` is empty: UnavailableError when every failure is
 * transient (the caller retries), BulkIndexError otherwise. */
export function throwOnFailures(failures: ItemFailure[], total: number): void {
  if (failures.length === 0) return;
  if (failures.every((f) => isRetriableStatus(f.status))) {
    const types = [...new Set(failures.map((f) => f.type))].join(", ");
    throw withCause(new UnavailableError(`search index rejected ${failures.length} of ${total} documents (${types}); retry later`), undefined);
  }
  throw new BulkIndexError(failures.length, total, failures);
}

function withCause<E extends Error>(error: E, cause: unknown): E {
  if (cause !== undefined) error.cause = cause;
  return error;
}

/** Elasticsearch's error type from a ResponseError body, if any. */
export function errorType(err: unknown): string | undefined {
  if (!(err instanceof errors.ResponseError)) return undefined;
  const body: unknown = err.body;
  if (typeof body !== "object" || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return undefined;
  const type = (error as { type?: unknown }).type;
  return typeof type === "string" ? type : undefined;
}

/** The backend cannot answer right now (down, overloaded, shard unassigned, alias
 * missing): the request may succeed if retried, so the transport answers 503. */
export function isUnavailable(err: unknown): boolean {
  if (
    err instanceof errors.ConnectionError ||
    err instanceof errors.TimeoutError ||
    err instanceof errors.NoLivingConnectionsError ||
    err instanceof errors.RequestAbortedError
  ) {
    return true;
  }
  if (err instanceof errors.ResponseError) {
    const status = err.statusCode ?? 0;
    return status === 408 || status === 429 || status >= 500 || errorType(err) === "index_not_found_exception";
  }
  return false;
}

/** Domain errors pass through; transient backend failures become UnavailableError
 * (with the client error as `cause`, for logs); anything else is a bug and is
 * rethrown as is. The message never quotes Elasticsearch, whose reasons can hold
 * document ids. */
export function translateError(err: unknown, action: string): unknown {
  if (err instanceof DomainError) return err;
  if (isUnavailable(err)) return withCause(new UnavailableError(`search is unavailable (${action} failed)`), err);
  return err;
}

/**
 * Whether an alias exists, by GET rather than `indices.existsAlias`: every HEAD
 * request made this client open a new TCP connection (measured: 50 calls, 49
 * connections; a GET reuses one). The indexer asks once per batch, so a HEAD
 * cost a connect and a teardown on both sides each time. A 404 is an answer
 * here, not an exception, so the common case builds no error.
 */
export async function aliasExists(client: Client, name: string): Promise<boolean> {
  const { statusCode } = await client.indices.getAlias({ name }, { ignore: [404], meta: true });
  return statusCode === 200;
}

export async function aliasTargets(client: Client, alias: string): Promise<string[]> {
  try {
    return Object.keys(await client.indices.getAlias({ name: alias }));
  } catch (err) {
    if (err instanceof errors.ResponseError && err.statusCode === 404) return [];
    throw err;
  }
}
