import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Agent, setGlobalDispatcher } from "undici";
import mysql from "mysql2/promise";
import type { RedisClient } from "../../src/adapters/redis/client.js";
import { cleanupRun, deleteRedisPrefix } from "../support/cleanup.js";
import { eventually } from "../support/env.js";
import { Api } from "../support/http.js";
import { layouts } from "../support/layouts.js";
import { spawnCli, type Proc } from "../support/processes.js";
import { redisOf } from "../support/redis.js";

// Enough sockets for thousands of requests in flight at once.
setGlobalDispatcher(new Agent({ connections: 256, pipelining: 1 }));

const MESSAGES = 5000;
const CHATS = 1000;

/** Sends `n` creates at once, round-robin over the APIs, retrying only 503s. */
async function createAll(apis: Api[], n: number, path: string, body: (i: number) => unknown): Promise<number[]> {
  const results = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      for (let attempt = 0; ; attempt++) {
        const res = await apis[i % apis.length]!.post(path, body(i));
        if (res.status === 201) return res.json.number as number;
        if (res.status !== 503 || attempt > 50) throw new Error(`create ${i} → ${res.status} ${JSON.stringify(res.json)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }),
  );
  return results;
}

function assertDense(numbers: number[], from: number, n: number, what: string): void {
  const sorted = [...numbers].sort((a, b) => a - b);
  assert.equal(new Set(sorted).size, sorted.length, `${what}: numbers are unique`);
  assert.deepEqual(sorted, Array.from({ length: n }, (_, i) => from + i), `${what}: numbers are exactly ${from}..${from + n - 1}`);
}

// The same tests in every layout: one Redis or the Redis Cluster, the API processes on loopback or on network hosts.
for (const layout of layouts()) describe(`many processes, one application (real MariaDB, Redis, RabbitMQ; ${layout.name})`, () => {
  // A create answered 503 after numbering leaves a gap, which the dense-numbering checks
  // count as a failure: give broker confirms 2 s (not 300 ms) on a loaded two-core machine.
  const env = layout.env("conc", { RECONCILE_INTERVAL_MS: "500", WORKER_PREFETCH: "500", PUBLISH_TIMEOUT_MS: "2000" });
  let db: mysql.Connection;
  let redis: RedisClient;
  let servers: Proc[] = [];
  let worker: Proc;
  let apis: Api[];
  let token: string;

  before(async () => {
    const spawned = await layout.spawn(env, 3);
    ({ servers, worker } = spawned);
    apis = spawned.servers.map((s) => new Api(s.origin));
    db = await mysql.createConnection(env.MYSQL_URL!);
    redis = redisOf(env);
    const latency = await layout.latency();
    if (latency) console.log(`# ${layout.name}: ${latency}`);
    token = (await apis[0]!.post("/api/v1/applications", { name: "load" })).json.token;
    assert.equal((await apis[1]!.postReady(`/api/v1/applications/${token}/chats`, { name: "hot" })).status, 201);
  });

  after(async () => {
    await Promise.all([...servers, worker].map((p) => p?.stop("SIGKILL")));
    await layout.close();
    await db?.end();
    redis?.disconnect();
    await cleanupRun(env);
  });

  const countRows = async (sql: string, params: unknown[]): Promise<number[]> => {
    const [rows] = await db.query<mysql.RowDataPacket[]>(sql, params);
    return rows.map((r) => Number(r.number));
  };
  const messageNumbers = (chat: number) =>
    countRows(
      "SELECT m.number FROM messages m JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id WHERE a.token = ? AND c.number = ? ORDER BY m.number",
      [token, chat],
    );

  it(`numbers ${MESSAGES} concurrent message creates on one chat across three processes, surviving a worker kill -9`, async () => {
    const load = createAll(apis, MESSAGES, `/api/v1/applications/${token}/chats/1/messages`, (i) => ({ body: `message ${i}` }));
    // Kill the worker in the middle of the load, then start another.
    await eventually(async () => (await messageNumbers(1)).length > 200, 60_000, "the worker to persist some messages");
    await worker.stop("SIGKILL");
    worker = await spawnCli("worker", env);
    const numbers = await load;
    assertDense(numbers, 1, MESSAGES, "responses");

    const persisted = await eventually(async () => {
      const rows = await messageNumbers(1);
      return rows.length >= MESSAGES ? rows : undefined;
    }, 120_000, "every acknowledged message in MySQL");
    assertDense(persisted, 1, MESSAGES, "MySQL rows (each acknowledged message exactly once)");
    const [bodies] = await db.query<mysql.RowDataPacket[]>(
      "SELECT COUNT(DISTINCT m.body) AS n FROM messages m JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id WHERE a.token = ? AND c.number = 1",
      [token],
    );
    assert.equal(Number(bodies[0]!.n), MESSAGES, "every body stored once");
    await eventually(async () => (await apis[2]!.get(`/api/v1/applications/${token}/chats/1`)).json.messages_count === MESSAGES, 60_000, "messages_count");
  });

  it(`numbers ${CHATS} concurrent chat creates on one application`, async () => {
    const numbers = await createAll(apis, CHATS, `/api/v1/applications/${token}/chats`, (i) => ({ name: `chat ${i}` }));
    assertDense(numbers, 2, CHATS, "chat responses");
    const persisted = await eventually(async () => {
      const rows = await countRows("SELECT c.number FROM chats c JOIN applications a ON a.id = c.application_id WHERE a.token = ? ORDER BY c.number", [token]);
      return rows.length >= CHATS + 1 ? rows : undefined;
    }, 60_000, "every chat in MySQL");
    assertDense(persisted, 1, CHATS + 1, "chat rows");
    await eventually(async () => (await apis[0]!.get(`/api/v1/applications/${token}`)).json.chats_count === CHATS + 1, 60_000, "chats_count");
  });

  it("never reuses a number after Redis loses every key while writes are queued", async () => {
    const path = `/api/v1/applications/${token}/chats/2/messages`;
    const firstWave = await createAll(apis, 500, path, (i) => ({ body: `before ${i}` }));
    // Redis restarts empty (this run's keys only, so parallel runs are untouched).
    assert.ok((await deleteRedisPrefix(redis, env.REDIS_PREFIX!)) > 0);
    const secondWave = await createAll(apis, 500, path, (i) => ({ body: `after ${i}` }));
    const all = [...firstWave, ...secondWave];
    assert.equal(new Set(all).size, all.length, "no number handed out twice");
    assert.ok(Math.min(...secondWave) > Math.max(...firstWave), "numbering continues past every number handed out before");
    const persisted = await eventually(async () => {
      const rows = await messageNumbers(2);
      return rows.length >= 1000 ? rows : undefined;
    }, 60_000, "both waves in MySQL");
    assert.equal(new Set(persisted).size, 1000);
    assert.deepEqual([...persisted].sort((a, b) => a - b), [...all].sort((a, b) => a - b));
    // A new chat after the loss continues the application's numbering too.
    const chat = await apis[0]!.postReady(`/api/v1/applications/${token}/chats`, {});
    assert.equal(chat.json.number, CHATS + 2);
  });

  it("repairs a count corrupted by hand, with exactly one reconciler at a time", async () => {
    const extra = [await spawnCli("worker", env), await spawnCli("worker", env)];
    try {
      await db.query("UPDATE chats c JOIN applications a ON a.id = c.application_id SET c.messages_count = 7 WHERE a.token = ? AND c.number = 1", [token]);
      await db.query("UPDATE applications SET chats_count = 3 WHERE token = ?", [token]);
      await eventually(async () => {
        const chat = (await apis[0]!.get(`/api/v1/applications/${token}/chats/1`)).json;
        const app = (await apis[0]!.get(`/api/v1/applications/${token}`)).json;
        return chat.messages_count === MESSAGES && app.chats_count === CHATS + 2;
      }, 60_000, "the reconciler to repair both counts");
      // The lease lets only one of the three workers sweep: count who did, over a few sweeps.
      const sweepers = () => [worker, ...extra].filter((p) => /count reconciliation sweep/.test(p.output()) && p.output().includes('"repaired"'));
      const sweepLines = () => [worker, ...extra].map((p) => p.output().split("\n").filter((l) => l.includes("count reconciliation sweep")).length);
      const before = sweepLines();
      await eventually(() => sweepLines().reduce((a, b) => a + b, 0) >= before.reduce((a, b) => a + b, 0) + 3, 30_000, "three more sweeps");
      const after = sweepLines();
      const active = after.map((n, i) => n - before[i]!).filter((n) => n > 0);
      assert.equal(active.length, 1, `sweeps per worker since: ${after.map((n, i) => n - before[i]!)}`);
      assert.ok(sweepers().length >= 1);
    } finally {
      await Promise.all(extra.map((p) => p.stop()));
    }
  });
});
