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
});
