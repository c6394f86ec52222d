import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay, retryAfterMs } from "../../client/backoff.js";
import { newIdempotencyKey } from "../../client/idempotency.js";

describe("client backoff and Retry-After", () => {
  it("doubles the ceiling per attempt up to the maximum, jittered below it", () => {
    const at = (random: number) => (attempt: number) => backoffDelay(attempt, { initialMs: 100, maxMs: 1000, random: () => random });
    assert.deepEqual([0, 1, 2, 3, 4, 10].map(at(0.999)), [99, 199, 399, 799, 999, 999]);
    assert.deepEqual([0, 5].map(at(0)), [0, 0]);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    assert.equal(retryAfterMs("2"), 2000);
    assert.equal(retryAfterMs("0"), 0);
    const now = Date.parse("2026-01-01T00:00:00Z");
    assert.equal(retryAfterMs("Thu, 01 Jan 2026 00:00:05 GMT", now), 5000);
    assert.equal(retryAfterMs(null), null);
    assert.equal(retryAfterMs("soon"), null);
  });

  it("makes idempotency keys of 22 URL-safe characters, different each time", () => {
    const keys = new Set(Array.from({ length: 100 }, newIdempotencyKey));
    assert.equal(keys.size, 100);
    for (const key of keys) assert.match(key, /^[A-Za-z0-9_-]{22}$/);
  });
});
