import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clampLimit, parseNumber } from "../../src/domain/limits.js";
import { fresher, mergePages } from "../../src/domain/merge.js";
import { RateLimiter } from "../../src/domain/rate-limiter.js";
import { parseWriteEvents } from "../../src/domain/write-event-schema.js";
import { redactToken } from "../../src/log.js";
import { newToken } from "../../src/server.js";

describe("domain helpers", () => {
  it("parses only canonical positive numbers in range", () => {
    assert.equal(parseNumber("1"), 1);
    assert.equal(parseNumber("4294967295"), 4294967295);
    for (const bad of ["0", "01", "-1", "1.5", "abc", "", "4294967296", "1e3", " 1"]) assert.equal(parseNumber(bad), null, bad);
    assert.equal(clampLimit(undefined), 50);
    assert.equal(clampLimit(500), 200);
  });

  it("merges durable and recent pages, fresher version winning", () => {
    const v = (number: number, updatedAt: number, tag: string) => ({ number, updatedAt, tag });
    assert.equal(fresher(v(1, 5, "old"), v(1, 6, "new"))?.tag, "new");
    assert.equal(fresher(v(1, 7, "db"), v(1, 6, "cache"))?.tag, "db");
    const merged = mergePages([v(5, 1, "db"), v(4, 1, "db")], [v(6, 1, "cache"), v(5, 2, "cache")], 2, true);
    assert.deepEqual(merged.map((m) => `${m.number}${m.tag}`), ["6cache", "5cache"]);
  });

  it("rate-limits per key with a refilling bucket", () => {
    let now = 0;
    const limiter = new RateLimiter(2, () => now);
    assert.equal(limiter.take("a"), 0);
    assert.equal(limiter.take("a"), 0);
    assert.ok(limiter.take("a") > 0);
    assert.equal(limiter.take("b"), 0, "keys are independent");
    now += 600;
    assert.equal(limiter.take("a"), 0);
  });

  it("rejects malformed queue payloads", () => {
    const message = { app: "t", chat: 1, number: 1, body: "x", createdAt: 1, updatedAt: 1 };
    assert.equal(parseWriteEvents([{ kind: "message", created: true, message }]).length, 1);
    for (const bad of [null, [], [{}], [{ kind: "message", created: true, message: { ...message, number: 0 } }], [{ kind: "chat", created: true, chat: message }], "x"]) {
      assert.throws(() => parseWriteEvents(bad), TypeError);
    }
  });

  it("makes 128-bit URL-safe tokens and redacts them in logs", () => {
    const tokens = new Set(Array.from({ length: 1000 }, newToken));
    assert.equal(tokens.size, 1000);
    for (const t of tokens) assert.match(t, /^[A-Za-z0-9_-]{22}$/);
    const token = [...tokens][0]!;
    const redacted = redactToken(`/api/v1/applications/${token}/chats`);
    assert.ok(!redacted.includes(token));
    assert.ok(redacted.includes(token.slice(0, 4)));
  });
});

describe("logging", () => {
  it("never writes a token in full", async () => {
    const { createLogger } = await import("../../src/log.js");
    const lines: string[] = [];
    const log = createLogger("info", "test", { write: (line: string) => void lines.push(line) });
    const token = newToken();
    log.info({ token, app: token, url: `/api/v1/applications/${token}/chats`, nested: { token } }, "created");
    const output = lines.join("");
    assert.match(output, /"msg":"created"/);
    assert.ok(!output.includes(token), output);
    assert.ok(output.includes(`${token.slice(0, 4)}…`), "keeps a short prefix for correlation");
  });
});
