import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { cleanupRun } from "../support/cleanup.js";
import { isolatedEnv } from "../support/env.js";
import { Api } from "../support/http.js";
import { startInProcess, type InProcessServer } from "../support/in-process.js";
import { spawnCluster, type Proc } from "../support/processes.js";
import { userToken } from "../support/user-tokens.js";
import { WsClient, type Frame } from "../support/ws-client.js";

// Presence and typing: on the embedded adapters (one process), and
// on two real `serve` processes against Redis, one of them killed with
// SIGKILL, so its users must age out of presence by the TTL alone.

interface Deployment {
  /** Two API processes (the same one in embedded mode). */
  a: string;
  b: string;
  /** Redis prefix of the run (cluster mode). */
  redisPrefix: string | null;
  /** Kills process B without a goodbye (cluster mode). */
  killB: (() => Promise<void>) | null;
  stop(): Promise<void>;
}

const user = (id: string, name: string | null = null) => ({ id, name });
const ops = (socket: WsClient, op: string): Frame[] => socket.frames.filter((f) => f.op === op);
const ids = (members: { id: string }[]): string[] => members.map((m) => m.id).sort();

async function redisKeys(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys.sort();
}

function presenceSuite(mode: "embedded" | "cluster", deploy: () => Promise<Deployment>): void {
  describe(`presence and typing (${mode}: ${mode === "cluster" ? "two serve processes, one killed" : "one process"})`, () => {
    let d: Deployment;
    const sockets: WsClient[] = [];
    before(async () => {
      d = await deploy();
    });
    after(async () => {
      await Promise.all(sockets.map((s) => s.close()));
      await d?.stop();
    });

    it("lists each user once, tells joins and leaves once per user, passes typing on capped and never stores it, and ages out a dead process's users", async () => {
      const api = new Api(d.a);
      const created = await api.post("/api/v1/applications", { name: "presence" });
      const { token, secret } = created.json as { token: string; secret: string };
      const chatPath = `/api/v1/applications/${token}/chats/1`;
      assert.equal((await api.postReady(`/api/v1/applications/${token}/chats`, {})).status, 201);
      const socket = async (base: string, sub: string | null, name: string | null = null): Promise<WsClient> => {
        const client = await WsClient.connect(`${base.replace("http", "ws")}/ws`);
        sockets.push(client);
        if (sub) await client.request({ op: "auth", token: await userToken(secret, { sub, ...(name ? { name } : {}), app: token }) });
        assert.equal((await client.request({ op: "subscribe", app: token, chat: 1 })).op, "subscribed");
        return client;
      };
      const joined = (w: WsClient) => ops(w, "presence_joined").map((f) => f.user.id);
      const left = (w: WsClient) => ops(w, "presence_left").map((f) => f.user.id);

      // Two users on two processes; alice with a socket on each.
      const watcher = await socket(d.a, null);
      const alice1 = await socket(d.a, "alice", "Alice");
      const alice2 = await socket(d.b, "alice", "Alice");
      const bob = await socket(d.b, "bob");
      const carol = await socket(d.b, "carol");
      await watcher.until(() => joined(watcher).length >= 3, 10_000, "three joins");
      assert.deepEqual(joined(watcher).sort(), ["alice", "bob", "carol"], "alice joined once, for both her sockets");
      assert.deepEqual(ops(watcher, "presence_joined").find((f) => f.user.id === "alice"), { op: "presence_joined", app: token, chat: 1, user: user("alice", "Alice") });
      for (const base of [d.a, d.b]) {
        const listed = await new Api(base).get(`${chatPath}/presence`);
        assert.deepEqual(ids(listed.json.data), ["alice", "bob", "carol"], "each user once, from either process");
      }
      const reply = await watcher.request({ op: "presence", app: token, chat: 1 });
      assert.deepEqual(ids(reply.members), ["alice", "bob", "carol"]);
      assert.deepEqual(reply.members.find((m: { id: string }) => m.id === "alice"), user("alice", "Alice"));

      // Typing: to everyone else on every process, never to the typist's own sockets, at most one per second.
      const redis = d.redisPrefix ? new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379") : null;
      const keysBefore = redis ? await redisKeys(redis, d.redisPrefix!) : [];
      const countBefore = (await api.get(chatPath)).json.messages_count;
      const started = Date.now();
      for (let i = 0; i < 20; i++) {
        alice1.send({ op: "typing", app: token, chat: 1 });
        alice2.send({ op: "typing", app: token, chat: 1 });
      }
      bob.send({ op: "typing", app: token, chat: 1 }); // the marker: once it arrived, alice's burst has too
      await watcher.until(() => ops(watcher, "typing").some((f) => f.user.id === "bob"), 10_000, "bob's typing");
      await carol.until(() => ops(carol, "typing").some((f) => f.user.id === "bob"), 10_000, "bob's typing on the other process");
      const elapsed = Date.now() - started;
      for (const receiver of [watcher, carol]) {
        const fromAlice = ops(receiver, "typing").filter((f) => f.user.id === "alice");
        assert.ok(fromAlice.length >= 1, "alice's typing arrived");
        assert.ok(fromAlice.length <= 1 + Math.floor(elapsed / 1000), `${fromAlice.length} typing events of alice in ${elapsed} ms: at most one per second`);
        assert.deepEqual(fromAlice[0], { op: "typing", app: token, chat: 1, user: user("alice", "Alice") });
      }
      assert.ok(ops(bob, "typing").some((f) => f.user.id === "alice"), "bob hears alice");
      assert.deepEqual(ops(alice1, "typing").map((f) => f.user.id).filter((id) => id === "alice"), [], "no echo to the typist");
      assert.deepEqual(ops(alice2, "typing").map((f) => f.user.id).filter((id) => id === "alice"), [], "nor to her other socket");
      assert.equal((await watcher.request({ op: "typing", app: token, chat: 1 })).code, "unauthorized", "typing needs a user");
      assert.equal((await api.get(chatPath)).json.messages_count, countBefore, "typing created nothing");
      if (redis) {
        assert.deepEqual(await redisKeys(redis, d.redisPrefix!), keysBefore, "nor any Redis key");
        redis.disconnect();
      }

      // Closing one of alice's two sockets tells nobody; bob leaving is the marker that it would have arrived.
      await alice2.close();
      await bob.close();
      await watcher.until(() => left(watcher).includes("bob"), 10_000, "bob's leave");
      assert.deepEqual(left(watcher), ["bob"], "alice still has a socket: she did not leave");
      assert.deepEqual(ids((await api.get(`${chatPath}/presence`)).json.data), ["alice", "carol"]);

      if (d.killB) {
        // Carol's process dies without a goodbye: she ages out within 30 s.
        const killed = Date.now();
        await d.killB();
        await watcher.until(() => left(watcher).includes("carol"), 30_000, "carol to age out of presence");
        console.log(`# carol left presence ${Date.now() - killed} ms after her process was killed`);
        assert.deepEqual(ids((await api.get(`${chatPath}/presence`)).json.data), ["alice"]);
      } else {
        await carol.close();
        await watcher.until(() => left(watcher).includes("carol"), 10_000, "carol's leave");
      }
      await alice1.close();
      await watcher.until(() => left(watcher).includes("alice"), 10_000, "alice's leave with her last socket");
      assert.deepEqual(left(watcher).filter((id) => id === "alice"), ["alice"], "once");
      assert.deepEqual((await api.get(`${chatPath}/presence`)).json.data, []);
    });
  });
}

presenceSuite("embedded", async () => {
  const srv: InProcessServer = await startInProcess("embedded", "presence");
  return { a: srv.base, b: srv.base, redisPrefix: null, killB: null, stop: () => srv.stop() };
});

presenceSuite("cluster", async () => {
  const env = isolatedEnv("presence");
  const { servers, worker } = await spawnCluster(env, 2);
  const [a, b] = servers as [Proc, Proc];
  return {
    a: `http://127.0.0.1:${a.port}`,
    b: `http://127.0.0.1:${b.port}`,
    redisPrefix: env.REDIS_PREFIX!,
    killB: () => b.stop("SIGKILL"),
    async stop() {
      await Promise.all([a.stop(), b.stop(), worker.stop()]);
      await cleanupRun(env);
    },
  };
});
