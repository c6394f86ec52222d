import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { pack } from "msgpackr";
import { pino } from "pino";
import { migrate } from "../../src/adapters/mysql/migrate.js";
import type { Backends } from "../../src/compose/backends.js";
import { clusterBackends } from "../../src/compose/cluster.js";
import { embeddedBackends } from "../../src/compose/embedded.js";
import { loadConfig } from "../../src/config.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { startWorker, type RunningWorker } from "../../src/worker/run-worker.js";
import { cleanupRun } from "../support/cleanup.js";
import { eventually, isolatedEnv, services } from "../support/env.js";
import { Api } from "../support/http.js";
import { layouts, type Server } from "../support/layouts.js";
import type { Proc } from "../support/processes.js";
import { WsClient, type Frame, type Protocol } from "../support/ws-client.js";

// Realtime /ws end to end, over real sockets (PROTOCOL.md). The first suite runs
// one server in this process, once on the embedded adapters and once on the
// cluster adapters against the loopback services; the second spawns three
// real `serve` processes and a worker against MariaDB, Redis, RabbitMQ and
// Elasticsearch. Every wait polls a condition with a deadline.

const body = (i: number, extra = ""): string => `hello ${i}${extra}`;
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function assertExactlyOnce(numbers: number[], expected: number[], what: string): void {
  const seen = new Set<number>();
  const dups = numbers.filter((n) => (seen.has(n) ? true : (seen.add(n), false)));
  assert.deepEqual(dups.slice(0, 10), [], `${what}: no number delivered twice`);
  const missing = expected.filter((n) => !seen.has(n));
  assert.deepEqual(missing.slice(0, 10), [], `${what}: no number missing (${missing.length} missing)`);
  assert.equal(numbers.length, expected.length, `${what}: exactly the expected numbers`);
}

function assertIncreasing(numbers: number[], what: string): void {
  for (let i = 1; i < numbers.length; i++) {
    if (numbers[i]! <= numbers[i - 1]!) assert.fail(`${what}: ${numbers[i]} after ${numbers[i - 1]} at position ${i}`);
  }
}

/** Creates an application and `chats` chats, retrying the first create while numbering starts (503). */
async function appWithChats(api: Api, chats: number): Promise<string> {
  const token = (await api.post("/api/v1/applications", { name: "ws" })).json.token as string;
  for (let i = 0; i < chats; i++) assert.equal((await api.postReady(`/api/v1/applications/${token}/chats`, {})).status, 201);
  return token;
}

/** Sends over REST, `parallel` at a time, retrying 503s; returns the numbers. */
async function restSends(api: Api, token: string, chat: number, count: number, parallel = 50, text = body): Promise<number[]> {
  const numbers: number[] = [];
  for (let start = 0; start < count; start += parallel) {
    const batch = await Promise.all(
      range(start, Math.min(count, start + parallel) - 1).map(async (i) => {
        const res = await api.postReady(`/api/v1/applications/${token}/chats/${chat}/messages`, { body: text(i) });
        assert.equal(res.status, 201, JSON.stringify(res.json));
        return res.json.number as number;
      }),
    );
    numbers.push(...batch);
  }
  return numbers;
}

/** Keeps sending over WebSocket from `clients` (round robin, a window of `window` unacked each) until stopped. */
function continuousSender(clients: WsClient[], token: string, chat: number, window = 20): { stop(): Promise<Map<WsClient, number[]>> } {
  let running = true;
  const acked = new Map<WsClient, number[]>(clients.map((c) => [c, []]));
  const loops = clients.map(async (client) => {
    let i = 0;
    const inflight = new Set<Promise<void>>();
    while (running) {
      const p: Promise<void> = client.request({ op: "send", app: token, chat, body: body(i++, " live") }).then((reply) => {
        inflight.delete(p);
        if (reply.op === "ack") acked.get(client)!.push(reply.number as number);
        else if (reply.code !== "rate_limited" && reply.code !== "unavailable") throw new Error(`send failed: ${JSON.stringify(reply)}`);
      });
      inflight.add(p);
      if (inflight.size >= window) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return acked;
    },
  };
}

const silent = pino({ level: "silent" });

interface InProcess {
  base: string;
  ws: string;
  server: RunningServer;
  stop(): Promise<void>;
}

/** Embedded adapters; cluster adapters on one Redis server; cluster adapters on the Redis Cluster. */
type Mode = "embedded" | "cluster" | "redis-cluster";

/**
 * One server in this process, on the embedded adapters (as `npm start` runs
 * it) or on the cluster adapters against the loopback services.
 */
async function startInProcess(mode: Mode, extraEnv: Record<string, string>): Promise<InProcess> {
  const cluster = mode !== "embedded";
  let env: Record<string, string>;
  let backends: Backends;
  if (!cluster) {
    env = { HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "silent", ...extraEnv };
    backends = embeddedBackends(loadConfig(env));
  } else {
    env = isolatedEnv("ws", extraEnv);
    if (mode === "redis-cluster") env = { ...env, REDIS_URL: "", REDIS_CLUSTER_NODES: services.redisCluster };
    await migrate(new URL(env.MYSQL_URL!), fileURLToPath(new URL("../../sql", import.meta.url)));
    const config = loadConfig(env);
    backends = clusterBackends(config, config.cluster!, silent);
  }
  const config = loadConfig(env);
  const worker: RunningWorker = await startWorker(config, backends, silent);
  const server = await startServer(config, backends, silent);
  return {
    base: `http://127.0.0.1:${server.port}`,
    ws: `ws://127.0.0.1:${server.port}/ws`,
    server,
    async stop() {
      await server.close();
      await worker.close();
      await backends.close();
      if (cluster) await cleanupRun(env);
    },
  };
}

/** The single-server acceptance suite; it runs in both modes. */
function oneServerSuite(mode: Mode): void {
describe(`realtime /ws, one server (${mode})`, () => {
  let srv: InProcess;
  let api: Api;
  let token: string;
  const clients: WsClient[] = [];
  const connect = async (protocol: Protocol | null = null): Promise<WsClient> => {
    const c = await WsClient.connect(srv.ws, protocol);
    clients.push(c);
    return c;
  };

  before(async () => {
    srv = await startInProcess(mode, { WS_MAX_SUBSCRIPTIONS: "4", WS_SENDS_PER_SECOND: "100000", WS_MAX_PAYLOAD_BYTES: "131072" });
    api = new Api(srv.base);
    token = await appWithChats(api, 6);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await srv?.stop();
  });

  it("delivers messages created over REST and over WebSocket; the sender gets an ack with the number", async () => {
    const subscriber = await connect();
    const sender = await connect();
    assert.deepEqual(await subscriber.request({ op: "subscribe", app: token, chat: 1 }), { op: "subscribed", ref: "r1", app: token, chat: 1 });

    const [restNumber] = await restSends(api, token, 1, 1);
    const live = await subscriber.until(() => subscriber.frames.find((f) => f.op === "message" && f.number === restNumber), 10_000, "the REST message");
    assert.deepEqual(Object.keys(live).sort(), ["app", "body", "chat", "created_at", "number", "op", "sender"]);
    assert.equal(live.sender, null, "an anonymous write");
    assert.equal(live.body, body(0));
    assert.match(live.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const ack = await sender.request({ op: "send", app: token, chat: 1, body: "über WebSocket 👋" });
    assert.equal(ack.op, "ack");
    assert.equal(ack.number, restNumber! + 1);
    const viaWs = await subscriber.until(() => subscriber.frames.find((f) => f.op === "message" && f.number === ack.number), 10_000, "the WS message");
    assert.equal(viaWs.body, "über WebSocket 👋");
    // Read-your-writes: the acked message is readable over REST at once.
    assert.equal((await api.get(`/api/v1/applications/${token}/chats/1/messages/${ack.number}`)).json.body, "über WebSocket 👋");

    // An edit reaches subscribers as message_updated.
    assert.equal((await api.patch(`/api/v1/applications/${token}/chats/1/messages/${ack.number}`, { body: "edited" })).status, 200);
    const edit = await subscriber.until(() => subscriber.frames.find((f) => f.op === "message_updated"), 10_000, "message_updated");
    assert.equal(edit.number, ack.number);
    assert.equal(edit.body, "edited");

    // Unsubscribed: no more messages for that chat.
    assert.equal((await subscriber.request({ op: "unsubscribe", app: token, chat: 1 })).op, "unsubscribed");
    const afterUnsub = subscriber.frames.length;
    const probe = await connect();
    await probe.request({ op: "subscribe", app: token, chat: 1 });
    const [n] = await restSends(api, token, 1, 1);
    await probe.until(() => probe.has(token, 1, n!), 10_000, "the probe's message");
    assert.equal(subscriber.frames.slice(afterUnsub).filter((f) => f.op === "message").length, 0);
  });

  it("honours the send key: a repeat is acked with the original number and delivered once; another body is idempotency_conflict", async () => {
    const subscriber = await connect();
    const sender = await connect();
    await subscriber.request({ op: "subscribe", app: token, chat: 2 });
    const key = `ws-key-${Math.random().toString(36).slice(2)}`;
    const first = await sender.request({ op: "send", app: token, chat: 2, body: "once over the socket", key });
    const again = await sender.request({ op: "send", app: token, chat: 2, body: "once over the socket", key });
    assert.equal(first.op, "ack");
    assert.deepEqual(again, { ...first, ref: again.ref }, "the original number");
    const conflict = await sender.request({ op: "send", app: token, chat: 2, body: "something else", key });
    assert.equal(conflict.op, "error");
    assert.equal(conflict.code, "idempotency_conflict");
    const bad = await sender.request({ op: "send", app: token, chat: 2, body: "x", key: "has space" });
    assert.equal(bad.code, "validation_failed");
    assert.equal(bad.details[0].field, "key");
    const marker = await sender.request({ op: "send", app: token, chat: 2, body: "after" });
    await subscriber.until(() => subscriber.has(token, 2, marker.number), 10_000, "the marker");
    assert.deepEqual(subscriber.frames.filter((f) => f.op === "message" && f.chat === 2).map((f) => f.number), [first.number, marker.number]);
  });

  it("application subscribers get chat_created", async () => {
    const watcher = await connect();
    assert.deepEqual(await watcher.request({ op: "subscribe", app: token }), { op: "subscribed", ref: "r1", app: token });
    const created = await api.postReady(`/api/v1/applications/${token}/chats`, { name: "late" });
    const frame = await watcher.until(() => watcher.frames.find((f) => f.op === "chat_created"), 10_000, "chat_created");
    assert.deepEqual(frame, { op: "chat_created", app: token, number: created.json.number });
  });

  it("speaks MessagePack when the client offers chat.v1.msgpack", async () => {
    const a = await connect("chat.v1.msgpack");
    const b = await connect("chat.v1.msgpack");
    assert.equal(a.socket.protocol, "chat.v1.msgpack");
    await a.request({ op: "subscribe", app: token, chat: 2 });
    const ack = await b.request({ op: "send", app: token, chat: 2, body: "packed ✓" });
    assert.equal(ack.op, "ack");
    const got = await a.until(() => a.frames.find((f) => f.op === "message"), 10_000, "msgpack message");
    assert.equal(got.number, ack.number);
    assert.equal(got.body, "packed ✓");
    assert.deepEqual(await a.request({ op: "ping" }), { op: "pong", ref: "r2" });
    // A JSON client on the same chat gets the same event as text.
    const j = await connect("chat.v1.json");
    assert.equal(j.socket.protocol, "chat.v1.json");
    await j.request({ op: "subscribe", app: token, chat: 2 });
    const ack2 = await b.request({ op: "send", app: token, chat: 2, body: "both" });
    await j.until(() => j.has(token, 2, ack2.number), 10_000, "json copy");
    await a.until(() => a.has(token, 2, ack2.number), 10_000, "msgpack copy");
  });

  it("refuses an upgrade that offers only unknown subprotocols", async () => {
    await assert.rejects(WsClient.connect(srv.ws.replace("/ws", "/ws"), "chat.v9" as Protocol), /400/);
  });

  it("answers bad frames with an error carrying the ref, and keeps the socket usable", async () => {
    const c = await connect();
    const errorFor = async (frame: unknown): Promise<Frame> => {
      const before = c.frames.length;
      c.raw(typeof frame === "string" ? frame : JSON.stringify(frame), false);
      return c.until(() => c.frames.slice(before).find((f) => f.op === "error"), 10_000, `error for ${JSON.stringify(frame)}`);
    };
    assert.equal((await errorFor("{not json")).code, "invalid_frame");
    assert.equal((await errorFor([1, 2])).code, "validation_failed");
    let e = await errorFor({ op: "dance", ref: "x1" });
    assert.deepEqual([e.code, e.ref], ["validation_failed", "x1"]);
    e = await errorFor({ op: "send", ref: 7, app: token, chat: 1 });
    assert.deepEqual([e.code, e.ref, e.details[0].field], ["validation_failed", 7, "body"]);
    e = await errorFor({ op: "send", ref: "big", app: token, chat: 1, body: "é".repeat(32_769) });
    assert.deepEqual([e.code, e.ref, e.details[0].field], ["validation_failed", "big", "body"]);
    e = await errorFor({ op: "send", ref: "empty", app: token, chat: 1, body: "" });
    assert.deepEqual([e.code, e.details[0].field], ["validation_failed", "body"]);
    e = await errorFor({ op: "subscribe", ref: "neg", app: token, chat: -1 });
    assert.deepEqual([e.code, e.details[0].field], ["validation_failed", "chat"]);
    e = await errorFor({ op: "subscribe", ref: "huge", app: token, chat: 4_294_967_296 });
    assert.deepEqual([e.code, e.details[0].field], ["validation_failed", "chat"]);
    e = await errorFor({ op: "subscribe", ref: "float", app: token, chat: 1.5 });
    assert.deepEqual([e.code, e.details[0].field], ["validation_failed", "chat"]);
    e = await errorFor({ op: "subscribe", ref: "long", app: "a".repeat(65), chat: 1 });
    assert.deepEqual([e.code, e.details[0].field], ["validation_failed", "app"]);
    e = await errorFor({ op: "subscribe", ref: "extra", app: token, chat: 1, admin: true });
    assert.deepEqual([e.code, e.details[0].field], ["validation_failed", "admin"]);
    e = await errorFor({ op: "subscribe", ref: "appsince", app: token, since: 3 });
    assert.deepEqual([e.code, e.details[0].field], ["validation_failed", "since"]);
    e = await errorFor({ op: "subscribe", ref: "noapp", app: "no-such-application", chat: 1 });
    assert.deepEqual([e.code, e.ref], ["not_found", "noapp"]);
    e = await errorFor({ op: "subscribe", ref: "nochat", app: token, chat: 999 });
    assert.deepEqual([e.code, e.ref], ["not_found", "nochat"]);
    e = await errorFor({ op: "send", ref: "nosend", app: token, chat: 999, body: "x" });
    assert.deepEqual([e.code, e.ref], ["not_found", "nosend"]);
    const before = c.frames.length;
    c.raw(pack({ op: "ping" }), true);
    e = await c.until(() => c.frames.slice(before).find((f) => f.op === "error"), 10_000, "binary on a JSON socket");
    assert.equal(e.code, "invalid_frame");
    for (const f of c.frames.filter((x) => x.op === "error")) {
      assert.deepEqual(Object.keys(f).filter((k) => !["op", "ref", "code", "message", "details"].includes(k)), []);
      assert.doesNotMatch(JSON.stringify(f), /at .*\.ts:|Error:|stack/);
    }
    // Still usable.
    assert.equal((await c.request({ op: "ping" })).op, "pong");
    assert.equal((await c.request({ op: "send", app: token, chat: 3, body: "still here" })).op, "ack");

    // A bad MessagePack frame on a MessagePack socket.
    const m = await connect("chat.v1.msgpack");
    m.raw(Buffer.from([0x92, 0x01]), true);
    assert.equal((await m.until(() => m.frames.find((f) => f.op === "error"), 10_000, "msgpack error")).code, "invalid_frame");
    assert.equal((await m.request({ op: "ping" })).op, "pong");
  });

  it("limits subscriptions per socket and rejects a duplicate subscription", async () => {
    const c = await connect();
    for (const chat of [1, 2, 3]) assert.equal((await c.request({ op: "subscribe", app: token, chat })).op, "subscribed");
    assert.equal((await c.request({ op: "subscribe", app: token, chat: 1 })).code, "already_subscribed");
    assert.equal((await c.request({ op: "subscribe", app: token })).op, "subscribed");
    const e = await c.request({ op: "subscribe", app: token, chat: 4 });
    assert.deepEqual([e.op, e.code], ["error", "too_many_subscriptions"]);
    assert.equal((await c.request({ op: "unsubscribe", app: token, chat: 3 })).op, "unsubscribed");
    assert.equal((await c.request({ op: "subscribe", app: token, chat: 4 })).op, "subscribed");
  });

  it("closes a socket that sends a frame over the size limit with 1009", async () => {
    const c = await connect();
    c.raw(JSON.stringify({ op: "ping", pad: "x".repeat(140_000) }), false);
    assert.deepEqual(await c.closed, { code: 1009, reason: "message too big" });
  });

  it("resume: replays the missed messages exactly once, then goes live, while sends continue", async () => {
    const chat = 5;
    const first = await connect();
    await first.request({ op: "subscribe", app: token, chat });
    await restSends(api, token, chat, 10);
    await first.until(() => first.count(token, chat) === 10, 10_000, "the first 10");
    const seen = first.numbers(token, chat);
    assert.deepEqual(seen, range(1, 10));
    await first.close();

    const missed = await restSends(api, token, chat, 1000);
    assert.deepEqual([...missed].sort((a, b) => a - b), range(11, 1010));

    // Sends continue while the subscriber comes back.
    const senders = [await connect(), await connect()];
    const load = continuousSender(senders, token, chat);
    await senders[0]!.until(() => senders[0]!.frames.filter((f) => f.op === "ack").length > 20, 10_000, "live sends under way");

    const back = await connect();
    const subscribed = await back.request({ op: "subscribe", app: token, chat, since: 10 }, 60_000);
    assert.equal(subscribed.op, "subscribed", JSON.stringify(subscribed));
    assert.ok(subscribed.replayed >= 1000, `replayed ${subscribed.replayed}`);
    // Keep sending through the settle window and well after it (the socket then reads from the shared topic).
    const at = back.count(token, chat);
    await back.until(() => back.count(token, chat) > at + 300, 30_000, "live messages after the replay");
    const t0 = Date.now();
    await back.until(() => Date.now() - t0 > 2500 && back.count(token, chat) > at + 600, 30_000, "messages past the settle window");
    const acked = await load.stop();
    const max = Math.max(...[...acked.values()].flat());
    await back.until(() => back.has(token, chat, max), 20_000, `the last live message ${max}`);
    const got = back.numbers(token, chat);
    assertExactlyOnce(got, range(11, max), "resumed subscriber");
    // One server process: the whole stream is in increasing order.
    assertIncreasing(got, "resumed subscriber");
  });

  it("rate-limits sends per socket with an error, and keeps the socket open", async () => {
    const limited = await startInProcess(mode, { WS_SENDS_PER_SECOND: "20" });
    try {
      const lapi = new Api(limited.base);
      const ltoken = await appWithChats(lapi, 1);
      // A fresh stack fences numbering until its first recovery ends; on the cluster the chat's own
      // slot can still be fenced after the chat was created. Wait for it (REST, outside the socket's limit).
      assert.equal((await lapi.postReady(`/api/v1/applications/${ltoken}/chats/1/messages`, { body: "ready" })).status, 201);
      const c = await WsClient.connect(limited.ws);
      const replies = await Promise.all(range(1, 60).map(() => c.request({ op: "send", app: ltoken, chat: 1, body: "burst" })));
      const limitedReplies = replies.filter((r) => r.op === "error" && r.code === "rate_limited");
      assert.ok(limitedReplies.length >= 30, `${limitedReplies.length} of 60 rate limited`);
      const others = replies.filter((r) => r.op !== "ack" && !(r.op === "error" && r.code === "rate_limited"));
      assert.ok(replies.filter((r) => r.op === "ack").length >= 20, `acks: ${replies.filter((r) => r.op === "ack").length}; neither ack nor rate_limited: ${JSON.stringify(others)}`);
      assert.equal((await c.request({ op: "ping" })).op, "pong");
      // Graceful shutdown (stop() closes the server first): every socket is told 1001.
      const closed = c.closed;
      await limited.stop();
      assert.deepEqual(await closed, { code: 1001, reason: "going away" });
    } catch (err) {
      await limited.stop().catch(() => undefined);
      throw err;
    }
  });
});
}

oneServerSuite("embedded");
oneServerSuite("cluster");
oneServerSuite("redis-cluster");

// --- several real processes against the real services

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]);
}

// Fanout and resume run in every layout (one Redis or the Redis Cluster, on
// loopback or on network hosts); the slow-consumer tests, which are about
// uWS and this process's memory, only in the first.
for (const [index, layout] of layouts().entries()) describe(`realtime /ws across three serve processes (real MariaDB, Redis, RabbitMQ, Elasticsearch; ${layout.name})`, () => {
  // A generous confirm timeout: these tests are about delivery and memory, and a busy 2-core box
  // must not turn a slow confirm into a failed send.
  const env = layout.env("wsx", { WS_SENDS_PER_SECOND: "1000000", WORKER_PREFETCH: "1000", PUBLISH_TIMEOUT_MS: "3000" });
  let servers: Server[] = [];
  let worker: Proc;
  let apis: Api[];
  let token: string;
  const clients: WsClient[] = [];
  const connect = async (i: number, protocol: Protocol | null = null): Promise<WsClient> => {
    const c = await WsClient.connect(servers[i]!.ws, protocol);
    clients.push(c);
    return c;
  };

  before(async () => {
    ({ servers, worker } = await layout.spawn(env, 3));
    apis = servers.map((s) => new Api(s.origin));
    token = await appWithChats(apis[0]!, 4);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all([...servers, worker].map((p) => p?.stop("SIGKILL")));
    await layout.close();
    await cleanupRun(env);
  });

  it("subscribers on every process receive every message sent to any, in increasing order per sending process", async () => {
    const chat = 1;
    const subscribers = [await connect(0), await connect(1, "chat.v1.msgpack"), await connect(2), await connect(2, "chat.v1.msgpack")];
    for (const s of subscribers) assert.equal((await s.request({ op: "subscribe", app: token, chat })).op, "subscribed");
    const senders = [await connect(0), await connect(1), await connect(2)];
    const perSender = 300;
    const acked = await Promise.all(
      senders.map(async (s, i) => {
        const numbers: number[] = [];
        for (let k = 0; k < perSender; k += 30) {
          const replies = await Promise.all(range(k, k + 29).map((j) => s.request({ op: "send", app: token, chat, body: `p${i} ${j}` })));
          for (const r of replies) {
            assert.equal(r.op, "ack", JSON.stringify(r));
            numbers.push(r.number as number);
          }
        }
        return numbers;
      }),
    );
    // REST sends reach them too.
    const viaRest = await restSends(apis[1]!, token, chat, 30);
    const all = [...acked.flat(), ...viaRest].sort((a, b) => a - b);
    assert.deepEqual(all, range(1, perSender * 3 + 30));
    for (const [i, s] of subscribers.entries()) {
      await s.until(() => s.count(token, chat) >= all.length, 30_000, `subscriber ${i} to get everything`);
      const got = s.numbers(token, chat);
      assertExactlyOnce(got, all, `subscriber ${i}`);
      const position = new Map(got.map((n, k) => [n, k]));
      for (const [p, numbers] of acked.entries()) {
        assertIncreasing(
          numbers.map((n) => position.get(n)!),
          `subscriber ${i}, messages sent through process ${p} arrive in their number order`,
        );
      }
    }
  });

  it("resume across processes: exactly once while three processes keep sending", async () => {
    const chat = 2;
    await restSends(apis[0]!, token, chat, 5);
    const missed = await Promise.all(apis.map((a) => restSends(a, token, chat, 334)));
    assert.equal(missed.flat().length, 1002);
    const senders = [await connect(0), await connect(1), await connect(2)];
    const load = continuousSender(senders, token, chat, 10);
    await senders[2]!.until(() => senders[2]!.frames.filter((f) => f.op === "ack").length > 20, 10_000, "sends under way");
    const back = await connect(1, "chat.v1.msgpack");
    const subscribed = await back.request({ op: "subscribe", app: token, chat, since: 5 }, 60_000);
    assert.equal(subscribed.op, "subscribed", JSON.stringify(subscribed));
    assert.ok(subscribed.replayed >= 1002);
    const at = back.count(token, chat);
    const t0 = Date.now();
    await back.until(() => Date.now() - t0 > 2500 && back.count(token, chat) > at + 300, 30_000, "live messages for a while after the replay");
    const acked = await load.stop();
    const max = Math.max(...[...acked.values()].flat());
    await back.until(() => back.distinct(token, chat) >= max - 5, 30_000, "every message up to the last ack");
    assertExactlyOnce(back.numbers(token, chat), range(6, max), "resumed subscriber");
  });

  if (index > 0) return;

  it("drops a client that stops reading (4008) and keeps the server's memory bounded", async () => {
    const chat = 3;
    const target = servers[2]!;
    const pid = target.child.pid!;
    const slow = await connect(2);
    await slow.request({ op: "subscribe", app: token, chat });
    const reader = await connect(0);
    await reader.request({ op: "subscribe", app: token, chat });
    // The sender is on another process, so the target's memory is what it holds
    // for its subscribers alone, not also 500 sends in flight at a time (with
    // them, its heap's growth under a loaded machine passed the bound alone).
    const sender = await connect(1);
    // Warm up the path, then take the baseline.
    for (let k = 0; k < 5; k++) await Promise.all(range(1, 200).map(() => sender.request({ op: "send", app: token, chat, body: "warm" })));
    await reader.until(() => reader.count(token, chat) >= 1000, 30_000, "warm-up delivered");
    const baseline = rssKiB(pid);
    slow.pauseReading();

    const total = 50_000;
    const text = "x".repeat(1000);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 50);
    const outputBefore = target.output().length;
    let sent = 0;
    let acks = 0;
    const window = 500;
    const inflight = new Set<Promise<void>>();
    while (sent < total) {
      const p: Promise<void> = sender.request({ op: "send", app: token, chat, body: text }, 60_000).then((r) => {
        inflight.delete(p);
        assert.equal(r.op, "ack", JSON.stringify(r));
        acks++;
      });
      inflight.add(p);
      sent++;
      if (inflight.size >= window) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    assert.equal(acks, total);
    // The server decided the client is too slow long before the end (it logs the close).
    await eventually(() => /closing a slow consumer/.test(target.output().slice(outputBefore)), 30_000, "the slow-consumer log line");
    slow.resumeReading();
    const closed = await slow.closed;
    await reader.until(() => reader.count(token, chat) >= 1000 + total, 120_000, "the fast reader to get all 50,000");
    clearInterval(sampler);
    peak = Math.max(peak, rssKiB(pid));
    const growthMiB = (peak - baseline) / 1024;
    console.log(`# slow consumer: close ${closed.code} "${closed.reason}", received ${slow.count(token, chat)} of ${total}; server RSS baseline ${(baseline / 1024).toFixed(0)} MiB, peak ${(peak / 1024).toFixed(0)} MiB (+${growthMiB.toFixed(0)} MiB)`);
    assert.deepEqual(closed, { code: 4008, reason: "slow consumer" });
    assert.ok(slow.count(token, chat) < total / 2, "the slow client was cut off early");
    // 50,000 × 1 KB would be ≥ 50 MiB of backlog if it were buffered for the slow client.
    assert.ok(growthMiB < RSS_GROWTH_BOUND_MIB, `server RSS grew ${growthMiB.toFixed(1)} MiB (bound ${RSS_GROWTH_BOUND_MIB} MiB)`);
  });

  it("closes a slow consumer with 4008 and its close frame every time, even with both cores saturated", async () => {
    const chat = 4;
    // Two busy loops take both cores, so bursts outrun the server's turns. Killed in finally, and each
    // stops by itself after 3 minutes, so a test process that dies cannot leave them behind.
    const hogs = [0, 1].map(() => spawn(process.execPath, ["-e", "const end = Date.now() + 180000; while (Date.now() < end) {}"], { stdio: "ignore" }));
    try {
      for (let round = 0; round < 3; round++) {
        const slow = await connect(1);
        await slow.request({ op: "subscribe", app: token, chat });
        const decisions = (): number => servers[1]!.output().split("closing a slow consumer").length;
        const before = decisions();
        slow.pauseReading();
        const sender = await connect(0);
        const text = "z".repeat(2000);
        const inflight = new Set<Promise<unknown>>();
        for (let i = 0; i < 8000; i++) {
          const p = sender.request({ op: "send", app: token, chat, body: text }, 120_000).finally(() => inflight.delete(p));
          inflight.add(p);
          if (inflight.size >= 1000) await Promise.race(inflight);
        }
        await Promise.all(inflight);
        await eventually(() => decisions() > before, 60_000, "the slow-consumer decision");
        slow.resumeReading();
        assert.deepEqual(await slow.closed, { code: 4008, reason: "slow consumer" }, `round ${round}: the close frame, not a cut`);
      }
    } finally {
      for (const hog of hogs) hog.kill("SIGKILL");
    }
  });
});

const RSS_GROWTH_BOUND_MIB = 48;
