import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createLogger } from "../../src/log.js";
import { newToken } from "../../src/server.js";
import { deleteRedisPrefix } from "../support/cleanup.js";
import { isolatedEnv } from "../support/env.js";

// Logged errors never carry a whole token, even where no redact path reaches:
// inside a Redis key in an ioredis error's message, stack or command args.

const TOKEN = /[A-Za-z0-9_-]{22,}/;
/** Stack frames and class names name code (`Decoder._Decoder_decodeSimpleError`), which may be as long as a token; they are kept. */
const withoutFrames = (json: string): string => json.replace(/\\n\s+at [^"\\]*/g, "").replace(/"(name|type)":"[^"]*"/g, "");

function capture(): { log: ReturnType<typeof createLogger>; lines: () => string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  return { log: createLogger("info", "redaction", stream), lines: () => lines };
}

describe("error logs redact tokens", () => {
  const env = isolatedEnv("logs");
  let redis: Redis;

  before(() => {
    redis = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: 0 });
  });
  after(async () => {
    await deleteRedisPrefix(redis, env.REDIS_PREFIX!);
    redis.disconnect();
  });

  it("scrubs a real ioredis ReplyError (the key is in command.args)", async () => {
    const token = newToken();
    const key = `${env.REDIS_PREFIX}a:${token}:chats`;
    await redis.set(key, "not a number");
    const err = await redis.incr(key).then(
      () => assert.fail("INCR of a string must fail"),
      (e: unknown) => e as Error & { command?: { args: unknown[] } },
    );
    assert.ok(JSON.stringify(err.command).includes(token), "the raw error carries the token");
    const { log, lines } = capture();
    log.error({ err }, "allocation failed");
    const line = lines().join("\n");
    assert.match(line, /"msg":"allocation failed"/);
    assert.match(line, /"stack":"ReplyError: ERR value is not an integer/, "stack frames and the class name survive");
    assert.match(line, /decoder\.js:\d+/);
    assert.ok(line.includes(token.slice(0, 4) + "…"), "keeps a short prefix for correlation");
    assert.ok(!line.includes(token), line);
    assert.doesNotMatch(withoutFrames(line), TOKEN, line);
  });

  it("scrubs message, stack, nested causes and Buffer args of an ioredis-like error", () => {
    const token = newToken();
    const err = Object.assign(new Error(`Connection is closed while running EVALSHA on chat:a:${token}:chats`), {
      name: "MaxRetriesPerRequestError",
      command: { name: "evalsha", args: ["abc", 1, `chat:a:${token}:chats`, Buffer.from(`chat:m:${token}:1`)] },
      previousErrors: [new Error(`first try on chat:a:${token}:chats failed`)],
      cause: new Error(`socket closed for ${token}`),
    });
    const { log, lines } = capture();
    log.warn({ err }, "redis failed");
    log.warn({ err: err.message }, "as a string");
    const output = lines().join("\n");
    assert.equal(lines().length, 2);
    assert.match(output, /"name":"MaxRetriesPerRequestError"/, "the class name is kept");
    assert.match(output, /log-redaction\.test\.ts:\d+/, "stack frames are kept");
    assert.match(output, /"previousErrors":\[\{"type":"Error","message":"first try on chat:a:/, "nested errors are serialized, then scrubbed");
    assert.ok(!output.includes(token), output);
    assert.doesNotMatch(withoutFrames(output), TOKEN, output);
  });
});
