import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import mysql from "mysql2/promise";
import { cleanupRun } from "../support/cleanup.js";
import { eventually, isolatedEnv, services } from "../support/env.js";
import { Api } from "../support/http.js";
import { runCli, spawnCli, type Proc } from "../support/processes.js";
import { TcpProxy } from "../support/tcp-proxy.js";

describe("a backend goes away: 503 with Retry-After, then recovery, and no acknowledged message lost", () => {
  const amqpProxy = new TcpProxy("127.0.0.1", Number(new URL(services.amqp).port || 5672));
  const redisProxy = new TcpProxy("127.0.0.1", Number(new URL(services.redis).port || 6379));
  const env = isolatedEnv("faults");
  let api: Proc;
  let worker: Proc;
  let client: Api;
  let token: string;
  const acknowledged = new Set<number>();

  before(async () => {
    await amqpProxy.start();
    await redisProxy.start();
    assert.equal((await runCli(["migrate"], env)).code, 0);
    worker = await spawnCli("worker", env);
    api = await spawnCli("serve", {
      ...env,
      AMQP_URL: `amqp://guest:guest@127.0.0.1:${amqpProxy.port}`,
      REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
      CREATES_PER_SECOND_PER_TOKEN: "400",
    });
    client = new Api(`http://127.0.0.1:${api.port}`);
    token = (await client.post("/api/v1/applications", { name: "faults" })).json.token;
    assert.equal((await client.postReady(`/api/v1/applications/${token}/chats`, {})).status, 201);
  });

  after(async () => {
    await Promise.all([api?.stop("SIGKILL"), worker?.stop("SIGKILL")]);
    await amqpProxy.cut();
    await redisProxy.cut();
    await cleanupRun(env);
  });

  const send = async (n: number, label: string): Promise<number[]> => {
    const statuses = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const res = await client.post(`/api/v1/applications/${token}/chats/1/messages`, { body: `${label} ${i}` });
        if (res.status === 201) acknowledged.add(res.json.number);
        else if (res.status === 503) assert.ok(Number(res.headers.get("retry-after")) >= 1, "503 carries Retry-After");
        else assert.fail(`unexpected ${res.status} ${JSON.stringify(res.json)}`);
        return res.status;
      }),
    );
    return statuses;
  };

  for (const [name, proxy] of [
    ["rabbitmq", amqpProxy],
    ["redis", redisProxy],
  ] as const) {
    it(`answers 503 while ${name} is away and recovers when it returns`, async () => {
      assert.ok((await send(50, `before ${name}`)).every((s) => s === 201));
      await proxy.cut();
      const during = await send(50, `during ${name}`);
      assert.ok(during.includes(503), `some creates answered 503 while ${name} was away: ${[...new Set(during)]}`);
      try {
        const ready = await client.get("/readyz");
        assert.equal(ready.status, 503);
        // With Redis away, whether numbering is fenced cannot be read either: that check is down too.
        assert.deepEqual(ready.json.down.filter((d: string) => d !== "numbering"), [name]);
        if (name === "rabbitmq") assert.deepEqual(ready.json.down, [name]);
      } finally {
        await proxy.restore(); // a failed assertion must not leave the backend away for the tests after it
      }
      await eventually(async () => (await send(1, `probe ${name}`))[0] === 201, 30_000, `creates to work again after ${name} returned`);
      assert.ok((await send(50, `after ${name}`)).every((s) => s === 201));
    });
  }

  it("a create answered 503 while RabbitMQ is away becomes durable, once, when retried with its Idempotency-Key", async () => {
    const key = { "Idempotency-Key": `retry-${Date.now()}` };
    const path = `/api/v1/applications/${token}/chats/1/messages`;
    await amqpProxy.cut();
    const failed = await client.post(path, { body: "retried with its key" }, key);
    assert.equal(failed.status, 503, "no confirm, no 201");
    await amqpProxy.restore();
    const retried = await eventually(async () => {
      const res = await client.post(path, { body: "retried with its key" }, key);
      return res.status === 200 ? res : undefined;
    }, 30_000, "the retry to be answered with the original message");
    acknowledged.add(retried.json.number);
    const db = await mysql.createConnection(env.MYSQL_URL!);
    try {
      const rows = await eventually(async () => {
        const [r] = await db.query<mysql.RowDataPacket[]>("SELECT number FROM messages WHERE body = ?", ["retried with its key"]);
        return r.length > 0 ? r : undefined;
      }, 30_000, "the retried message persisted");
      assert.deepEqual(rows.map((r) => Number(r.number)), [retried.json.number], "exactly once, under the number of the first attempt");
    } finally {
      await db.end();
    }
  });

  it("answers 429 past the per-token create rate", async () => {
    const burst = await Promise.all(Array.from({ length: 900 }, () => client.post(`/api/v1/applications/${token}/chats`, {})));
    const limited = burst.filter((r) => r.status === 429);
    assert.ok(limited.length > 0, "some creates were rate limited");
    assert.equal(limited[0]!.json.error.code, "rate_limited");
    assert.ok(Number(limited[0]!.headers.get("retry-after")) >= 1);
  });

  it("has every acknowledged message in MySQL exactly once", async () => {
    const db = await mysql.createConnection(env.MYSQL_URL!);
    try {
      const rows = await eventually(async () => {
        const [r] = await db.query<mysql.RowDataPacket[]>(
          "SELECT m.number FROM messages m JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id WHERE a.token = ? AND c.number = 1",
          [token],
        );
        const numbers = r.map((x) => Number(x.number));
        return [...acknowledged].every((n) => numbers.includes(n)) ? numbers : undefined;
      }, 60_000, "every acknowledged message persisted");
      assert.equal(new Set(rows).size, rows.length, "no duplicates");
      assert.ok(acknowledged.size >= 200, `${acknowledged.size} acknowledged`);
    } finally {
      await db.end();
    }
  });
});
