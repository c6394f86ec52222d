import type { HttpResponse } from "uWebSockets.js";
import { DomainError } from "../../domain/errors.js";

/** Past the limit, at most this much more is read (and dropped) before answering 413. */
export const DISCARD_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Reads the whole request body. One larger than `limit` fails with 413 only
 * once it has ended (at most DISCARD_MAX_BYTES more are read and dropped), so
 * the connection can be closed with nothing left unread: closing under unread
 * bytes makes the kernel reset the connection, which can destroy the 413
 * before the client reads it.
 */
export function readBody(res: HttpResponse, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return consumeBody(res, limit, (chunk) => chunks.push(Buffer.from(chunk.slice(0)))).then((size) =>
    chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size),
  );
}

/** Reads a body to its end and keeps none of it (a request refused before its body mattered), bounded as readBody is. */
export function discardBody(res: HttpResponse, limit: number): Promise<void> {
  return consumeBody(res, limit, null).then(() => undefined);
}

/** Feeds each chunk to `keep` (null: drop them) and resolves with the body's size; past `limit`, see readBody. */
function consumeBody(res: HttpResponse, limit: number, keep: ((chunk: ArrayBuffer) => void) | null): Promise<number> {
  return new Promise((resolve, reject) => {
    let size = 0;
    let settled = false;
    res.onData((chunk, isLast) => {
      if (settled) return;
      size += chunk.byteLength;
      if (size > limit) {
        keep = null;
        if (isLast || size > limit + DISCARD_MAX_BYTES) {
          settled = true;
          reject(new DomainError("payload_too_large", `the request body must be at most ${limit} bytes`));
        }
        return;
      }
      keep?.(chunk); // uWS reuses the chunk's memory: a keeper copies it
      if (isLast) {
        settled = true;
        resolve(size);
      }
    });
  });
}

/** JSON, or form-encoded for older clients; anything else is 415. */
export function parseBody(raw: Buffer, contentType: string): unknown {
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  if (type === "application/json" || (type === "" && raw.length > 0 && (raw[0] === 0x7b || raw[0] === 0x5b))) {
    if (raw.length === 0) return {};
    try {
      return JSON.parse(raw.toString("utf8"));
    } catch {
      throw new DomainError("invalid_json", "the request body is not valid JSON");
    }
  }
  if (type === "application/x-www-form-urlencoded") return Object.fromEntries(new URLSearchParams(raw.toString("utf8")));
  if (type === "" && raw.length === 0) return {};
  throw new DomainError("unsupported_media_type", "send application/json or application/x-www-form-urlencoded");
}
