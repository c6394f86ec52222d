import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { MysqlStore } from "../../src/adapters/mysql/mysql-store.js";
import { eventually } from "../support/env.js";
import { Api } from "../support/http.js";
import { startInProcess, type InProcessServer, type Mode } from "../support/in-process.js";
import { userToken } from "../support/user-tokens.js";
import { WsClient } from "../support/ws-client.js";

// Deleting messages, end to end on the embedded adapters and on the cluster
// adapters (MariaDB, Redis, RabbitMQ, Elasticsearch).

function deleteSuite(mode: Mode): void {
  describe(`deleting messages (${mode})`, () => {
    let srv: InProcessServer;
    let api: Api;
    const sockets: WsClient[] = [];
    const connect = async (): Promise<WsClient> => {
      const socket = await WsClient.connect(srv.ws);
      sockets.push(socket);
      return socket;
    };
    const newChat = async (): Promise<{ token: string; secret: string; chat: string }> => {
      const created = await api.post("/api/v1/applications", { name: "deletes" });
      const chat = await api.postReady(`/api/v1/applications/${created.json.token}/chats`, {});
      return { token: created.json.token, secret: created.json.secret, chat: `/api/v1/applications/${created.json.token}/chats/${chat.json.number}` };
    };
    const numbers = (page: { json: { data: { number: number }[] } }): number[] => page.json.data.map((m) => m.number);

    before(async () => {
      srv = await startInProcess(mode, "delete", { RECONCILE_INTERVAL_MS: "200" });
      api = new Api(srv.base);
    });
    after(async () => {
      await Promise.all(sockets.map((s) => s.close()));
      await srv?.stop();
    });

    it("a deleted message leaves GET, pages and search (within 2 s); subscribers and resumes get message_deleted; its number is never reused", async () => {
      const { token, chat } = await newChat();
      for (const body of ["first words", "doomed words", "third words"]) assert.equal((await api.post(`${chat}/messages`, { body })).status, 201);
      await eventually(async () => numbers(await api.get(`${chat}/messages/search?q=doomed`)).includes(2), 10_000, "the message to be searchable");
      const live = await connect();
      await live.request({ op: "subscribe", app: token, chat: 1 });

      const deleted = await api.call("DELETE", `${chat}/messages/2`);
      assert.equal(deleted.status, 204);
      assert.equal(deleted.json, null, "no body");
      assert.equal((await api.call("DELETE", `${chat}/messages/2`)).status, 204, "a repeat is 204");
      assert.equal((await api.call("DELETE", `${chat}/messages/99`)).status, 404);

      const frame = await live.until(() => live.frames.find((f) => f.op === "message_deleted"), 10_000, "message_deleted");
      assert.deepEqual(frame, { op: "message_deleted", app: token, chat: 1, number: 2 });
      assert.equal((await api.get(`${chat}/messages/2`)).status, 404);
      assert.equal((await api.patch(`${chat}/messages/2`, { body: "revived" })).status, 404, "a deleted message cannot be edited");
      assert.deepEqual(numbers(await api.get(`${chat}/messages`)), [3, 1]);
      assert.deepEqual(numbers(await api.get(`${chat}/messages?after=1`)), [3]);
      assert.deepEqual(numbers(await api.get(`${chat}/messages?before=3`)), [1]);
      // Pages of one step over the tombstone and still say where to go on.
      const newest = await api.get(`${chat}/messages?limit=1`);
      assert.deepEqual([numbers(newest), newest.json.next], [[3], "3"]);
      const older = await api.get(`${chat}/messages?limit=1&before=3`);
      assert.deepEqual([numbers(older), older.json.next], [[1], null]);
      await eventually(async () => numbers(await api.get(`${chat}/messages/search?q=doomed`)).length === 0, 2000, "the deleted message to leave search");
      assert.deepEqual(numbers(await api.get(`${chat}/messages/search?q=words`)).sort(), [1, 3]);

      assert.equal((await api.post(`${chat}/messages`, { body: "fourth" })).json.number, 4, "the number is not reused");
      const resumed = await connect();
      await resumed.request({ op: "subscribe", app: token, chat: 1, since: 0 });
      assert.deepEqual(
        resumed.frames.filter((f) => f.op === "message" || f.op === "message_deleted").map((f) => `${f.op}:${f.number}`),
        ["message:1", "message_deleted:2", "message:3", "message:4"],
        "a resume accounts for every number: the deleted one as message_deleted",
      );
      await eventually(async () => (await api.get(chat)).json.messages_count === 3, 30_000, "messages_count to leave the deleted one out");
      if (mode === "cluster") {
        const pool = (srv.backends.store as MysqlStore).pool;
        await eventually(async () => {
          const [rows] = await pool.query<any[]>(
            "SELECT m.body, m.deleted_at FROM messages m JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id WHERE a.token = ? AND m.number = 2",
            [token],
          );
          return rows.length === 1 && rows[0].body === "" && rows[0].deleted_at !== null;
        }, 10_000, "the tombstone row in MySQL");
      }
    });

    it("counts converge when creates and deletes race, the reconciler agreeing", async () => {
      const { chat } = await newChat();
      const created = await Promise.all(Array.from({ length: 30 }, (_, i) => api.post(`${chat}/messages`, { body: `m${i}` })));
      const doomed = created.filter((_, i) => i % 3 === 0).map((r) => r.json.number as number);
      // Deletes of fresh messages (often in the worker's batch of their creates) and repeats of them.
      await Promise.all([...doomed, ...doomed.slice(0, 3)].map((n) => api.call("DELETE", `${chat}/messages/${n}`)));
      await eventually(async () => (await api.get(chat)).json.messages_count === 20, 30_000, "messages_count to reach 20");
      const all = (await api.get(`${chat}/messages?limit=200`)).json.data as { number: number }[];
      assert.equal(all.length, 20);
      assert.ok(all.every((m) => !doomed.includes(m.number)));
    });

    it("on a closed application only the sender deletes a message", async () => {
      const { token, secret, chat } = await newChat();
      const app = `/api/v1/applications/${token}`;
      assert.equal((await api.patch(app, { user_tokens_required: true }, { authorization: `Bearer ${secret}` })).status, 200);
      const alice = { authorization: `Bearer ${await userToken(secret, { sub: "alice", app: token })}` };
      const bob = { authorization: `Bearer ${await userToken(secret, { sub: "bob", app: token })}` };
      const message = await api.post(`${chat}/messages`, { body: "alice's" }, alice);
      assert.equal((await api.call("DELETE", `${chat}/messages/${message.json.number}`)).status, 401);
      const refused = await api.call("DELETE", `${chat}/messages/${message.json.number}`, undefined, bob);
      assert.deepEqual([refused.status, refused.json.error.code], [403, "forbidden"]);
      assert.equal((await api.get(`${chat}/messages/${message.json.number}`, bob)).status, 200, "still there");
      assert.equal((await api.call("DELETE", `${chat}/messages/${message.json.number}`, undefined, alice)).status, 204);
      assert.equal((await api.get(`${chat}/messages/${message.json.number}`, alice)).status, 404);
    });
  });
}

deleteSuite("embedded");
deleteSuite("cluster");
