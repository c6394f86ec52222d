import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import amqp from "amqplib";
import { pack } from "msgpackr";
import mysql from "mysql2/promise";
import { cleanupRun } from "../support/cleanup.js";
import { eventually, isolatedEnv } from "../support/env.js";
import { Api } from "../support/http.js";
import { runCli, spawnCli, type Proc } from "../support/processes.js";

describe("malformed writes on the queue go to the dead-letter queue and block nothing", () => {
  const env = isolatedEnv("dlq");
  let proc: Proc;

  before(async () => {
    assert.equal((await runCli(["migrate"], env)).code, 0);
    proc = await spawnCli("all", env, /worker started/);
  });
  after(async () => {
    await proc?.stop();
    await cleanupRun(env);
  });

  it("dead-letters undecodable and ill-shaped payloads, then persists the next real write", async () => {
    const connection = await amqp.connect(env.AMQP_URL!);
    const channel = await connection.createConfirmChannel();
    try {
      const poison = [Buffer.from("not msgpack at all \u00ff"), pack({ kind: "message" }), pack([{ kind: "message", created: true, message: { app: "x", chat: 0 } }])];
      for (const body of poison) channel.sendToQueue(env.QUEUE_NAME!, body, { persistent: true });
      await channel.waitForConfirms();

      const api = new Api(`http://127.0.0.1:${proc.port}`);
      const token = (await api.post("/api/v1/applications", { name: "after poison" })).json.token;
      await api.postReady(`/api/v1/applications/${token}/chats`, {});
      assert.equal((await api.post(`/api/v1/applications/${token}/chats/1/messages`, { body: "still flowing" })).status, 201);

      const db = await mysql.createConnection(env.MYSQL_URL!);
      try {
        await eventually(async () => {
          const [rows] = await db.query<mysql.RowDataPacket[]>("SELECT body FROM messages");
          return rows.some((r) => r.body === "still flowing");
        }, 30_000, "the real write persisted behind the poison");
      } finally {
        await db.end();
      }
      const dead = await eventually(async () => {
        const { messageCount } = await channel.checkQueue(`${env.QUEUE_NAME}.dead`);
        return messageCount === poison.length ? messageCount : undefined;
      }, 10_000, "every poison message in the dead-letter queue");
      assert.equal(dead, 3);
      assert.equal((await channel.checkQueue(env.QUEUE_NAME!)).messageCount, 0, "nothing left waiting");
    } finally {
      await connection.close();
    }
  });

  it("dead-letters writes for an unknown application with a log line, and applies the rest of their batch", async () => {
    const api = new Api(`http://127.0.0.1:${proc.port}`);
    const token = (await api.post("/api/v1/applications", { name: "mixed batch" })).json.token as string;
    const ghost = "G".repeat(22); // canonical, but no such application
    const at = Date.now();
    const message = (app: string, number: number, body: string) => ({ kind: "message", created: true, message: { app, chat: 1, number, body, createdAt: at, updatedAt: at } });
    const connection = await amqp.connect(env.AMQP_URL!);
    const channel = await connection.createConfirmChannel();
    try {
      const deadBefore = (await channel.checkQueue(`${env.QUEUE_NAME}.dead`)).messageCount;
      channel.sendToQueue(env.QUEUE_NAME!, pack([message(token, 1, "real one"), message(ghost, 1, "for nobody")]), { persistent: true });
      await channel.waitForConfirms();
      const db = await mysql.createConnection(env.MYSQL_URL!);
      try {
        await eventually(async () => {
          const [rows] = await db.query<mysql.RowDataPacket[]>("SELECT body FROM messages");
          return rows.some((r) => r.body === "real one");
        }, 30_000, "the known application's write persisted");
        const [ghosts] = await db.query<mysql.RowDataPacket[]>("SELECT body FROM messages WHERE body = 'for nobody'");
        assert.equal(ghosts.length, 0);
      } finally {
        await db.end();
      }
      await eventually(async () => (await channel.checkQueue(`${env.QUEUE_NAME}.dead`)).messageCount === deadBefore + 1, 10_000, "the unknown application's write dead-lettered");
      await eventually(() => /writes for an unknown application were dead-lettered/.test(proc.output()), 10_000, "a log line about it");
      assert.ok(!proc.output().includes(token), "the log never holds the whole token");
    } finally {
      await connection.close();
    }
  });
});
