import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import type { MysqlStore } from "../../src/adapters/mysql/mysql-store.js";
import { eventually } from "../support/env.js";
import { Api } from "../support/http.js";
import { startInProcess, type InProcessServer, type Mode } from "../support/in-process.js";
import { spawnCli } from "../support/processes.js";
import { badTokens, capturingLogger, userToken } from "../support/user-tokens.js";
import { WsClient } from "../support/ws-client.js";

// Users and access end to end, over real sockets, on the embedded adapters and on the
// cluster adapters against MariaDB, Redis, RabbitMQ and Elasticsearch:
// secrets, user tokens, senders, open and closed applications, CORS.

const GOOD_ORIGIN = "https://good.example";

/** The status of an upgrade: 101 when it opened, else the HTTP answer's. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once("open", () => {
      socket.close();
      resolve(101);
    });
    socket.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once("error", (err) => {
      if (socket.readyState !== WebSocket.CLOSED) reject(err);
    });
  });
}

function identitySuite(mode: Mode): void {
  describe(`identity and access (${mode})`, () => {
    let srv: InProcessServer;
    let api: Api;
    const logs = capturingLogger();
    const sockets: WsClient[] = [];
    const connect = async (query = ""): Promise<WsClient> => {
      const socket = await WsClient.connect(`${srv.ws}${query}`);
      sockets.push(socket);
      return socket;
    };

    /** A fresh application with two chats. */
    const newApp = async (name: string): Promise<{ token: string; secret: string; base: string }> => {
      const created = await api.post("/api/v1/applications", { name });
      assert.equal(created.status, 201);
      const base = `/api/v1/applications/${created.json.token}`;
      for (const chat of ["one", "two"]) assert.equal((await api.postReady(`${base}/chats`, { name: chat })).status, 201);
      return { token: created.json.token, secret: created.json.secret, base };
    };
    const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

    before(async () => {
      srv = await startInProcess(mode, "identity", { SECRET_GRACE_SECONDS: "1", CORS_ORIGINS: GOOD_ORIGIN }, { log: logs.log });
      api = new Api(srv.base);
    });
    after(async () => {
      await Promise.all(sockets.map((s) => s.close()));
      await srv?.stop();
    });

    it("creating an application answers its secret once: 256 bits, base64url, never shown again", async () => {
      const created = await api.post("/api/v1/applications", { name: "secretive" });
      assert.match(created.json.secret, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(created.json.user_tokens_required, false);
      for (const res of [await api.get(`/api/v1/applications/${created.json.token}`), await api.patch(`/api/v1/applications/${created.json.token}`, { name: "renamed" })]) {
        assert.equal(res.status, 200);
        assert.ok(!JSON.stringify(res.json).includes(created.json.secret), "the secret is not in later answers");
        assert.equal(res.json.secret, undefined);
      }
      assert.ok(!logs.text().includes(created.json.secret), "nor in the log");
    });

    it("messages carry their sender in every representation; anonymous writes have sender null", async () => {
      const { token, secret, base } = await newApp("senders");
      const alice = await userToken(secret, { sub: "alice", name: "Alice Ä", app: token });
      const subscriber = await connect();
      await subscriber.request({ op: "subscribe", app: token, chat: 1 });

      const rest = await api.post(`${base}/chats/1/messages`, { body: "hello from alice" }, bearer(alice));
      assert.equal(rest.status, 201, JSON.stringify(rest.json));
      assert.deepEqual(rest.json.sender, { id: "alice", name: "Alice Ä" });
      const anonymous = await api.post(`${base}/chats/1/messages`, { body: "hello from nobody" });
      assert.equal(anonymous.json.sender, null);

      const socket = await connect();
      const authed = await socket.request({ op: "auth", token: await userToken(secret, { sub: "bob", app: token }) });
      assert.deepEqual(authed, { op: "authed", ref: authed.ref, user: { id: "bob", name: null } });
      const ack = await socket.request({ op: "send", app: token, chat: 1, body: "hello from bob" });
      assert.equal(ack.op, "ack");
      const viaUrl = await connect(`?access_token=${encodeURIComponent(alice)}`);
      const urlAck = await viaUrl.request({ op: "send", app: token, chat: 1, body: "alice via the URL" });

      const expected = new Map<number, unknown>([
        [rest.json.number, { id: "alice", name: "Alice Ä" }],
        [anonymous.json.number, null],
        [ack.number, { id: "bob", name: null }],
        [urlAck.number, { id: "alice", name: "Alice Ä" }],
      ]);
      // Live frames, GETs, pages.
      await subscriber.until(() => [...expected.keys()].every((n) => subscriber.has(token, 1, n)), 10_000, "every message live");
      for (const frame of subscriber.frames.filter((f) => f.op === "message")) assert.deepEqual(frame.sender, expected.get(frame.number), `frame ${frame.number}`);
      for (const [number, sender] of expected) assert.deepEqual((await api.get(`${base}/chats/1/messages/${number}`)).json.sender, sender);
      const page = await api.get(`${base}/chats/1/messages`);
      for (const m of page.json.data) assert.deepEqual(m.sender, expected.get(m.number));
      // An edit keeps the sender; replayed frames carry it too.
      assert.deepEqual((await api.patch(`${base}/chats/1/messages/${rest.json.number}`, { body: "edited by alice" }, bearer(alice))).json.sender, { id: "alice", name: "Alice Ä" });
      const resumed = await connect();
      await resumed.request({ op: "subscribe", app: token, chat: 1, since: 0 });
      for (const frame of resumed.frames.filter((f) => f.op === "message")) assert.deepEqual(frame.sender, expected.get(frame.number), `replayed ${frame.number}`);
      // Search hits (through the queue, the worker and the index).
      await eventually(async () => {
        const hits = (await api.get(`${base}/chats/1/messages/search?q=hello`)).json.data as { number: number; sender: unknown }[];
        return hits.length === 2 && hits.every((h) => JSON.stringify(h.sender) === JSON.stringify(expected.get(h.number)));
      }, 10_000, "search hits with senders");
      if (mode === "cluster") {
        // MySQL, written by the worker from the queue's events.
        const pool = (srv.backends.store as MysqlStore).pool;
        await eventually(async () => {
          const [rows] = await pool.query<any[]>("SELECT m.number, m.sender_id, m.sender_name FROM messages m JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id WHERE a.token = ? AND c.number = 1", [token]);
          return rows.length === 4 && rows.every((r) => JSON.stringify(r.sender_id === null ? null : { id: r.sender_id, name: r.sender_name }) === JSON.stringify(expected.get(Number(r.number))));
        }, 10_000, "senders in MySQL");
      }
    });

    it("refuses every bad token with 401 on an open application (REST, auth, upgrade URL) and logs why, never the token", async () => {
      const { token, secret, base } = await newApp("bad tokens");
      const other = await newApp("the other application");
      const socket = await connect();
      for (const [what, bad] of await badTokens(token, secret, other.secret, other.token)) {
        for (const res of [await api.post(`${base}/chats/1/messages`, { body: "x" }, bearer(bad)), await api.get(`${base}/chats/1/messages`, bearer(bad))]) {
          assert.equal(res.status, 401, `${what}: ${JSON.stringify(res.json)}`);
          assert.equal(res.json.error.code, "unauthorized", what);
        }
        const refused = await socket.request({ op: "auth", token: bad });
        assert.equal(refused.op, "error", what);
        assert.equal(refused.code, bad.length > 0 ? "unauthorized" : "validation_failed", what);
        assert.equal(await upgradeStatus(`${srv.ws}?access_token=${encodeURIComponent(bad)}`), 401, `${what} on the upgrade URL`);
        const log = logs.text();
        assert.ok(!log.includes(bad), `${what}: the token is not in the log`);
        for (const part of bad.split(".").filter((p) => p.length >= 16)) assert.ok(!log.includes(part), `${what}: no part of the token in the log`);
      }
      assert.match(logs.text(), /credential refused/);
      assert.match(logs.text(), /the token has expired/);
      assert.match(logs.text(), /only HS256 tokens are accepted/);
      assert.equal((await api.post(`${base}/chats/1/messages`, { body: "x" }, { authorization: "Basic Zm9vOmJhcg==" })).status, 401, "another scheme");
      // Nothing was written by any refused request.
      assert.deepEqual((await api.get(`${base}/chats/1/messages`)).json.data, []);
    });

    it("rotates the secret: the previous one verifies during its grace period only; a rotation needs the current secret", async () => {
      const { token, secret, base } = await newApp("rotation");
      const path = `/api/v1/applications/${token}/secret`;
      assert.equal((await api.post(path)).status, 401, "no credential");
      assert.equal((await api.post(path, undefined, bearer("x".repeat(43)))).status, 401, "a wrong secret");
      const oldToken = await userToken(secret, { sub: "carol", app: token });
      const rotated = await api.post(path, undefined, bearer(secret));
      assert.equal(rotated.status, 200, JSON.stringify(rotated.json));
      assert.deepEqual(Object.keys(rotated.json), ["secret"]);
      assert.match(rotated.json.secret, /^[A-Za-z0-9_-]{43}$/);
      assert.notEqual(rotated.json.secret, secret);
      const newToken = await userToken(rotated.json.secret, { sub: "carol", app: token });
      assert.equal((await api.post(`${base}/chats/1/messages`, { body: "new secret" }, bearer(newToken))).status, 201);
      assert.equal((await api.post(`${base}/chats/1/messages`, { body: "old secret, in grace" }, bearer(oldToken))).status, 201);
      assert.equal((await api.post(path, undefined, bearer(secret))).status, 401, "the previous secret cannot rotate");
      // SECRET_GRACE_SECONDS is 1 here (600 by default).
      await eventually(async () => (await api.get(`${base}/chats/1/messages`, bearer(oldToken))).status === 401, 10_000, "the grace period to end");
      assert.equal((await api.get(`${base}/chats/1/messages`, bearer(newToken))).status, 200);
      assert.match(logs.text(), /the signature does not match/);
      for (const credential of [oldToken, newToken, secret, rotated.json.secret]) assert.ok(!logs.text().includes(credential), "no token or secret in the log");
    });

    it("a closed application: anonymous 401, a chat outside the claim 403, another user's message 403", async () => {
      const { token, secret, base } = await newApp("closed");
      const alice = await userToken(secret, { sub: "alice", app: token, chats: [1] });
      const bob = await userToken(secret, { sub: "bob", app: token });
      const fromAlice = await api.post(`${base}/chats/1/messages`, { body: "alice, before closing" }, bearer(alice));
      assert.equal((await api.patch(base, { user_tokens_required: true })).status, 401, "closing needs the secret");
      assert.equal((await api.patch(base, { user_tokens_required: true }, bearer(bob))).status, 401, "a user token is not the secret");
      const closed = await api.patch(base, { user_tokens_required: true }, bearer(secret));
      assert.equal(closed.status, 200);
      assert.equal(closed.json.user_tokens_required, true);
      assert.equal((await api.get(base)).json.user_tokens_required, true);

      const anonymous = [
        await api.post(`${base}/chats`, {}),
        await api.get(`${base}/chats`),
        await api.get(`${base}/chats/1`),
        await api.put(`${base}/chats/1`, { name: "x" }),
        await api.post(`${base}/chats/1/messages`, { body: "x" }),
        await api.get(`${base}/chats/1/messages`),
        await api.get(`${base}/chats/1/messages/1`),
        await api.patch(`${base}/chats/1/messages/1`, { body: "x" }),
        await api.get(`${base}/chats/1/messages/search?q=alice`),
        await api.patch(base, { name: "renamed without the secret" }),
      ];
      for (const res of anonymous) assert.deepEqual([res.status, res.json.error.code], [401, "unauthorized"]);
      const outside = [
        await api.get(`${base}/chats/2`, bearer(alice)),
        await api.post(`${base}/chats/2/messages`, { body: "x" }, bearer(alice)),
        await api.get(`${base}/chats/2/messages`, bearer(alice)),
      ];
      for (const res of outside) assert.deepEqual([res.status, res.json.error.code], [403, "forbidden"]);
      assert.deepEqual((await api.get(`${base}/chats`, bearer(alice))).json.data.map((c: { number: number }) => c.number), [1], "the claim narrows the list");
      assert.deepEqual((await api.get(`${base}/chats`, bearer(bob))).json.data.map((c: { number: number }) => c.number), [1, 2]);

      const edit = await api.patch(`${base}/chats/1/messages/${fromAlice.json.number}`, { body: "bob edits alice" }, bearer(bob));
      assert.deepEqual([edit.status, edit.json.error.code], [403, "forbidden"]);
      assert.equal((await api.patch(`${base}/chats/1/messages/${fromAlice.json.number}`, { body: "alice edits alice" }, bearer(alice))).status, 200);
      assert.equal((await api.post(`${base}/chats/1/messages`, { body: "bob speaks" }, bearer(bob))).json.sender.id, "bob");

      // The socket: anonymous ops are refused, the claim holds, auth lets the user in.
      const socket = await connect();
      for (const frame of [{ op: "subscribe", app: token, chat: 1 }, { op: "send", app: token, chat: 1, body: "x" }, { op: "subscribe", app: token }]) {
        const refused = await socket.request(frame);
        assert.deepEqual([refused.op, refused.code], ["error", "unauthorized"], JSON.stringify(frame));
      }
      await socket.request({ op: "auth", token: alice });
      assert.equal((await socket.request({ op: "subscribe", app: token, chat: 1 })).op, "subscribed");
      const forbidden = await socket.request({ op: "subscribe", app: token, chat: 2 });
      assert.deepEqual([forbidden.op, forbidden.code], ["error", "forbidden"]);
      assert.deepEqual([(await socket.request({ op: "auth", token: bob })).code], ["forbidden"], "a socket acts as one user");

      // Reopened: anonymous again.
      assert.equal((await api.patch(base, { user_tokens_required: false }, bearer(secret))).status, 200);
      assert.equal((await api.get(`${base}/chats/1/messages`)).status, 200);
    });

    it("closing ends the subscriptions made without a user token while it was open, on every process; a user's stay", async () => {
      const { token, secret, base } = await newApp("closing");
      const alice = await userToken(secret, { sub: "alice", app: token });
      // Cluster: the sockets are on a second API process, which only learns of the closing from the store.
      const other = mode === "cluster" ? await spawnCli("serve", { ...srv.env, PORT: "0" }) : null;
      try {
        const wsUrl = other ? `ws://127.0.0.1:${other.port}/ws` : srv.ws;
        const open = async (query = ""): Promise<WsClient> => {
          const socket = await WsClient.connect(`${wsUrl}${query}`);
          sockets.push(socket);
          return socket;
        };
        const anonymous = await open();
        const member = await open(`?access_token=${alice}`);
        for (const frame of [{ op: "subscribe", app: token, chat: 1 }, { op: "subscribe", app: token }]) assert.equal((await anonymous.request(frame)).op, "subscribed");
        assert.equal((await member.request({ op: "subscribe", app: token, chat: 1 })).op, "subscribed");

        assert.equal((await api.patch(base, { user_tokens_required: true }, bearer(secret))).status, 200);
        const ended = (chat: number | undefined) =>
          anonymous.until(() => anonymous.frames.find((f) => f.op === "unsubscribed" && f.ref === undefined && f.chat === chat), 15_000, `the server to end the subscription to ${chat ?? "the application"}`);
        for (const end of await Promise.all([ended(1), ended(undefined)])) {
          assert.deepEqual([end.app, end.code], [token, "unauthorized"]);
        }

        // A message created after the end reaches the user's socket only. The pong comes after
        // anything the anonymous socket's former subscription would have been sent.
        const sent = await api.post(`${base}/chats/1/messages`, { body: "for users only" }, bearer(alice));
        await member.until(() => member.has(token, 1, sent.json.number), 15_000, "the user's socket to get the message");
        await anonymous.request({ op: "ping" });
        assert.equal(anonymous.count(token, 1), 0, "nothing reaches an ended subscription");
        assert.deepEqual([(await anonymous.request({ op: "subscribe", app: token, chat: 1 })).code], ["unauthorized"]);
      } finally {
        assert.equal((await api.patch(base, { user_tokens_required: false }, bearer(secret))).status, 200);
        await other?.stop();
      }
    });

    it("CORS: listed origins get preflights and headers; upgrades from other origins are refused", async () => {
      const { base } = await newApp("cors");
      const preflight = await fetch(`${srv.base}${base}/chats/1/messages`, {
        method: "OPTIONS",
        headers: { origin: GOOD_ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), GOOD_ORIGIN);
      assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
      assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Authorization/i);
      const refused = await fetch(`${srv.base}${base}/chats/1/messages`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
      assert.equal(refused.headers.get("access-control-allow-origin"), null);
      const read = await fetch(`${srv.base}${base}/chats`, { headers: { origin: GOOD_ORIGIN } });
      assert.equal(read.headers.get("access-control-allow-origin"), GOOD_ORIGIN);
      assert.match(read.headers.get("vary") ?? "", /Origin/);
      const failed = await fetch(`${srv.base}${base}/chats/999`, { headers: { origin: GOOD_ORIGIN } });
      assert.equal(failed.status, 404);
      assert.equal(failed.headers.get("access-control-allow-origin"), GOOD_ORIGIN, "errors are readable too");
      assert.equal((await fetch(`${srv.base}${base}/chats`, { headers: { origin: "https://evil.example" } })).headers.get("access-control-allow-origin"), null);

      assert.equal(await upgradeStatus(srv.ws, { origin: "https://evil.example" }), 403);
      assert.equal(await upgradeStatus(srv.ws, { origin: GOOD_ORIGIN }), 101);
      assert.equal(await upgradeStatus(srv.ws, { origin: srv.base }), 101, "same origin");
      assert.equal(await upgradeStatus(srv.ws), 101, "no Origin");
    });
  });
}

identitySuite("embedded");
identitySuite("cluster");
