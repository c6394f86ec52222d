import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually } from "../support/env.js";
import { Api } from "../support/http.js";
import { startInProcess, type InProcessServer, type Mode } from "../support/in-process.js";
import { userToken } from "../support/user-tokens.js";
import { WsClient } from "../support/ws-client.js";

// Read markers, end to end on the embedded adapters and on the
// cluster adapters (MariaDB, Redis, RabbitMQ, Elasticsearch).

function readMarkerSuite(mode: Mode): void {
  describe(`read markers (${mode})`, () => {
    let srv: InProcessServer;
    let api: Api;
    const sockets: WsClient[] = [];
    const connect = async (): Promise<WsClient> => {
      const socket = await WsClient.connect(srv.ws);
      sockets.push(socket);
      return socket;
    };
    /** An application with one chat, and a user token of alice for it. */
    const newChat = async (): Promise<{ token: string; chat: string; alice: string; auth: Record<string, string> }> => {
      const created = await api.post("/api/v1/applications", { name: "markers" });
      const token = created.json.token as string;
      await api.postReady(`/api/v1/applications/${token}/chats`, {});
      const alice = await userToken(created.json.secret, { sub: "alice", name: "Alice", app: token });
      return { token, chat: `/api/v1/applications/${token}/chats/1`, alice, auth: { authorization: `Bearer ${alice}` } };
    };
    const send = async (chat: string, count: number): Promise<number[]> =>
      (await Promise.all(Array.from({ length: count }, (_, i) => api.post(`${chat}/messages`, { body: `m${i}` })))).map((r) => r.json.number as number).sort((a, b) => a - b);

    before(async () => {
      srv = await startInProcess(mode, "read");
      api = new Api(srv.base);
    });
    after(async () => {
      await Promise.all(sockets.map((s) => s.close()));
      await srv?.stop();
    });

    it("moves forward only; unread is right at once after creates and deletes; subscribers hear of each move", async () => {
      const { token, chat, alice, auth } = await newChat();
      const read = async (): Promise<unknown> => (await api.get(`${chat}/read`, auth)).json;
      assert.deepEqual(await read(), { number: 0, unread: 0 }, "0 before the first mark");
      await send(chat, 5);
      assert.deepEqual(await read(), { number: 0, unread: 5 });
      const watcher = await connect();
      await watcher.request({ op: "subscribe", app: token, chat: 1 });

      assert.deepEqual((await api.put(`${chat}/read`, { number: 3 }, auth)).json, { number: 3, unread: 2 });
      assert.deepEqual((await api.put(`${chat}/read`, { number: 2 }, auth)).json, { number: 3, unread: 2 }, "never backwards");
      const socket = await connect();
      await socket.request({ op: "auth", token: alice });
      const state = await socket.request({ op: "read", app: token, chat: 1, number: 4 });
      assert.deepEqual(state, { op: "read_state", ref: state.ref, app: token, chat: 1, number: 4, unread: 1 });
      const events = await watcher.until(() => {
        const reads = watcher.frames.filter((f) => f.op === "read");
        return reads.length >= 2 && reads;
      }, 10_000, "two read events");
      assert.deepEqual(events, [
        { op: "read", app: token, chat: 1, user: { id: "alice", name: "Alice" }, number: 3 },
        { op: "read", app: token, chat: 1, user: { id: "alice", name: "Alice" }, number: 4 },
      ], "one per move, none for the backwards one");

      assert.equal((await api.call("DELETE", `${chat}/messages/5`)).status, 204);
      assert.deepEqual(await read(), { number: 4, unread: 0 }, "a deleted message is not unread");
      const [six, seven] = await send(chat, 2);
      assert.deepEqual(await read(), { number: 4, unread: 2 });
      assert.equal((await api.call("DELETE", `${chat}/messages/2`)).status, 204);
      assert.deepEqual(await read(), { number: 4, unread: 2 }, "deleting below the marker changes nothing");
      assert.deepEqual((await api.put(`${chat}/read`, { number: seven! }, auth)).json, { number: seven, unread: 0 });
      assert.ok(six! < seven!);

      const tooFar = await api.put(`${chat}/read`, { number: 1000 }, auth);
      assert.deepEqual([tooFar.status, tooFar.json.error.details[0].field], [400, "number"]);
      for (const bad of [{ number: -1 }, { number: 1.5 }, { number: "3" }, {}]) assert.equal((await api.put(`${chat}/read`, bad, auth)).status, 400, JSON.stringify(bad));
      assert.deepEqual([(await api.get(`${chat}/read`)).status, (await api.put(`${chat}/read`, { number: 1 })).status], [401, 401], "a marker is a user's");
      const anonymous = await connect();
      assert.equal((await anonymous.request({ op: "read", app: token, chat: 1, number: 1 })).code, "unauthorized");
      assert.equal((await api.get(`/api/v1/applications/${token}/chats/9/read`, auth)).status, 404);
    });

    it("counts unread past the newest 200 from the store", async () => {
      const { chat, auth } = await newChat();
      await send(chat, 260);
      await api.put(`${chat}/read`, { number: 10 }, auth);
      await eventually(async () => (await api.get(chat)).json.messages_count === 260, 30_000, "the messages to be persisted");
      assert.deepEqual((await api.get(`${chat}/read`, auth)).json, { number: 10, unread: 250 });
      assert.equal((await api.call("DELETE", `${chat}/messages/20`)).status, 204);
      await eventually(async () => (await api.get(`${chat}/read`, auth)).json.unread === 249, 10_000, "an old deletion to count once persisted");
    });

    it("is persisted through the queue and survives a worker restart", async () => {
      const { token, chat, auth } = await newChat();
      await send(chat, 6);
      await api.put(`${chat}/read`, { number: 2 }, auth);
      await eventually(async () => (await srv.backends.store.findReadMarker(token, 1, "alice")) === 2, 10_000, "the marker in the store");
      await srv.restartWorker();
      await api.put(`${chat}/read`, { number: 5 }, auth);
      await eventually(async () => (await srv.backends.store.findReadMarker(token, 1, "alice")) === 5, 10_000, "the new worker to persist the next one");
      assert.deepEqual((await api.get(`${chat}/read`, auth)).json, { number: 5, unread: 1 });
    });
  });
}

readMarkerSuite("embedded");
readMarkerSuite("cluster");
