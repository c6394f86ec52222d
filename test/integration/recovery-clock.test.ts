import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import { RedisKeys } from "../../src/adapters/redis/keys.js";
import { cleanupRun, deleteRedisPrefix } from "../support/cleanup.js";
import { eventually, isolatedEnv } from "../support/env.js";
import { Api } from "../support/http.js";
import { runCli, spawnCli, type Proc } from "../support/processes.js";

const skewPreload = fileURLToPath(new URL("../support/clock-skew.mjs", import.meta.url));

// Counter recovery after Redis lost its state, with the worker on a host
// whose clock is 5 s ahead of, or behind, the API host's. Recovery must
// neither lift the fence early (numbers handed out twice, acknowledged
// messages dropped by INSERT IGNORE) nor fence forever.
for (const skew of [5000, -5000]) {
  describe(`counter recovery with the worker's clock ${skew > 0 ? "ahead" : "behind"} by ${Math.abs(skew)} ms`, () => {
    const env = isolatedEnv("skew");
    const procs: Proc[] = [];
    const redis = new Redis(env.REDIS_URL!);
    after(async () => {
      await Promise.all(procs.map((p) => p.stop("SIGKILL")));
      redis.disconnect();
      await cleanupRun(env);
    });

    it("fences while a worker holds writes, lifts once they are durable, and no number is handed out twice", async () => {
      assert.equal((await runCli(["migrate"], env)).code, 0);
      procs.push(await spawnCli("worker", { ...env, NODE_OPTIONS: `--import=${skewPreload}`, TEST_CLOCK_SKEW_MS: String(skew) }));
      const api = await spawnCli("serve", env);
      procs.push(api);
      const client = new Api(`http://127.0.0.1:${api.port}`);
      const token = (await client.post("/api/v1/applications", { name: "skew" })).json.token as string;
      const messages = `/api/v1/applications/${token}/chats/1/messages`;
      assert.equal((await client.postReady(`/api/v1/applications/${token}/chats`, {})).status, 201);
      const acknowledged: number[] = [];
      const send = async (body: string): Promise<number> => {
        const res = await client.post(messages, { body });
        if (res.status === 201) acknowledged.push(res.json.number);
        return res.status;
      };
      for (let i = 0; i < 20; i++) assert.equal(await send(`before ${i}`), 201);

      const db = await mysql.createConnection(env.MYSQL_URL!);
      try {
        // The worker's next batch blocks on the table lock: it holds writes.
        await db.query("LOCK TABLES messages WRITE, chats WRITE, applications WRITE");
        const held = await Promise.all(Array.from({ length: 20 }, (_, i) => send(`held ${i}`)));
        assert.ok(held.every((s) => s === 201));
        const markKey = new RedisKeys(env.REDIS_PREFIX!).workerMark();
        const mark = async (): Promise<number> => Number((await redis.hget(markKey, "n")) ?? 0);
        await deleteRedisPrefix(redis, env.REDIS_PREFIX!); // Redis "restarted empty"
        assert.equal(await send("during"), 503, "numbering fences at once");
        // Let the leader poll a few times while the worker holds writes (each poll takes a mark).
        const before = await eventually(async () => (await mark()) || undefined, 30_000, "the mark to exist again");
        await eventually(async () => (await mark()) >= before + 3, 30_000, "three polls of the recovery leader");
        assert.equal(await send("still during"), 503, "no number while a worker holds writes");
        await db.query("UNLOCK TABLES");
        await eventually(async () => (await send("after")) === 201, 30_000, "creates to work again once the held writes are durable");
        for (let i = 0; i < 20; i++) assert.equal(await send(`after ${i}`), 201);

        assert.equal(new Set(acknowledged).size, acknowledged.length, `no number acknowledged twice: ${acknowledged.join(",")}`);
        const numbers = await eventually(async () => {
          const [rows] = await db.query<mysql.RowDataPacket[]>("SELECT number FROM messages");
          const stored = rows.map((r) => Number(r.number));
          return acknowledged.every((n) => stored.includes(n)) ? stored : undefined;
        }, 30_000, "every acknowledged message in MySQL");
        assert.equal(new Set(numbers).size, numbers.length, "each number stored once");
      } finally {
        await db.query("UNLOCK TABLES").catch(() => undefined);
        await db.end();
      }
    });
  });
}
