import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import WebSocket from "ws";
import { ChatApi, ChatSocket, type LiveMessage } from "../../client/index.js";
import { embeddedBackends } from "../../src/compose/embedded.js";
import { loadConfig } from "../../src/config.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { startWorker, type RunningWorker } from "../../src/worker/run-worker.js";
import { cleanupRun } from "../support/cleanup.js";
import { eventually, isolatedEnv } from "../support/env.js";
import { runCli, spawnCli, type Proc } from "../support/processes.js";
import { parsePrometheus, valueOf, type Sample } from "../support/prometheus-text.js";

// GET /metrics on the API and the worker's own listener, scraped and parsed
// the way Prometheus would; counters must move by exactly what the test did.

const METRICS_KEY = "metrics-key-0123456789";
const silent = pino({ level: "silent" });

/** The status of one request with a method fetch will not send. */
function statusOf(method: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

async function scrape(url: string, key: string | null = METRICS_KEY): Promise<Sample[]> {
  const res = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

describe("GET /metrics (API)", () => {
  let server: RunningServer;
  let worker: RunningWorker;
  let close: () => Promise<void>;
  let base: string;

  before(async () => {
    const config = loadConfig({ HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "silent", METRICS_KEY });
    const backends = embeddedBackends(config);
    worker = await startWorker(config, backends, silent);
    server = await startServer(config, backends, silent);
    base = `http://127.0.0.1:${server.port}`;
    close = async () => {
      await server.close();
      await worker.close();
      await backends.close();
    };
  });
  after(() => close?.());

  it("answers 401 without the bearer key", async () => {
    for (const authorization of [undefined, "Bearer wrong-key-0123456789", `bearer ${METRICS_KEY}`]) {
      const res = await fetch(`${base}/metrics`, { headers: authorization ? { authorization } : {} });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("www-authenticate"), "Bearer");
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "unauthorized");
    }
  });

  it("counts exactly the requests, messages and frames the test made, by route pattern", async () => {
    const api = new ChatApi({ baseUrl: base });
    const beforeRun = await scrape(`${base}/metrics`);

    const { token } = await api.createApplication("metrics");
    await api.createChat(token);
    await api.createChat(token, "second");
    for (const body of ["one", "two", "three"]) await api.sendMessage(token, 1, body);
    await api.listMessages(token, 1);
    await assert.rejects(api.getChat(token, 99), { status: 404 });
    assert.equal((await fetch(`${base}/nowhere`)).status, 404);
    assert.equal(await statusOf("TRACE", `${base}/nowhere`), 404); // fetch refuses TRACE; uWS drops non-standard methods

    // One socket: subscribed + 3 replayed + 1 live message + 1 ack = 6 frames.
    const socket = new ChatSocket({ api, WebSocket });
    const received: LiveMessage[] = [];
    socket.on("message", (m) => received.push(m));
    socket.connect();
    await socket.subscribe(token, 1, { since: 0 });
    await socket.send(token, 1, "four");
    await eventually(() => received.length === 4, 10_000, "the live message");

    const text = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_KEY}` } })).text();
    assert.ok(!text.includes(token), "no label holds a token");
    const afterRun = parsePrometheus(text);
    const moved = (name: string, labels: Record<string, string> = {}): number => valueOf(afterRun, name, labels) - valueOf(beforeRun, name, labels);

    const requests = "chat_http_requests_total";
    const chats = "/api/v1/applications/:token/chats";
    assert.equal(moved(requests, { method: "POST", route: "/api/v1/applications", status: "201" }), 1);
    assert.equal(moved(requests, { method: "POST", route: chats, status: "201" }), 2);
    assert.equal(moved(requests, { method: "POST", route: `${chats}/:chat/messages`, status: "201" }), 3);
    assert.equal(moved(requests, { method: "GET", route: `${chats}/:chat/messages`, status: "200" }), 1);
    assert.equal(moved(requests, { method: "GET", route: `${chats}/:chat`, status: "404" }), 1);
    assert.equal(moved(requests, { method: "GET", route: "(unmatched)", status: "404" }), 1);
    assert.equal(moved(requests, { method: "other", route: "(unmatched)", status: "404" }), 1, "unknown methods do not become label values");
    const total = afterRun.filter((s) => s.name === requests).reduce((n, s) => n + s.value, 0) - beforeRun.filter((s) => s.name === requests).reduce((n, s) => n + s.value, 0);
    assert.equal(total, 10, "nothing else was counted");
    assert.equal(moved("chat_http_request_duration_seconds_count", { method: "POST", route: chats }), 2);
    assert.equal(moved("chat_messages_created_total"), 4);
    assert.equal(valueOf(afterRun, "chat_ws_connections"), 1);
    assert.equal(moved("chat_ws_frames_sent_total"), 6);
    for (const name of ["chat_create_batch_size_count", "chat_inflight_creates", "chat_numbering_recovering"]) {
      assert.ok(afterRun.some((s) => s.name === name), `${name} is exposed`);
    }

    socket.close();
    await eventually(async () => valueOf(await scrape(`${base}/metrics`), "chat_ws_connections") === 0, 10_000, "the socket to be gone");
  });
});

describe("worker metrics (WORKER_METRICS_PORT)", () => {
  let env: Record<string, string>;
  let proc: Proc;

  before(async () => {
    env = isolatedEnv("metrics", { METRICS_KEY, WORKER_METRICS_PORT: "0" });
    const migrated = await runCli(["migrate"], env);
    assert.equal(migrated.code, 0, migrated.output);
    proc = await spawnCli("all", env, /worker started/);
  });
  after(async () => {
    await proc?.stop();
    if (env) await cleanupRun(env);
  });

  it("serves chat_worker_batches_total and chat_worker_lag_seconds behind the key", async () => {
    const port = Number(/"metricsPort":(\d+)/.exec(proc.output())![1]);
    const url = `http://127.0.0.1:${port}/metrics`;
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${port}/elsewhere`, { headers: { authorization: `Bearer ${METRICS_KEY}` } })).status, 404);
    const before = valueOf(await scrape(url), "chat_worker_batches_total");

    const api = new ChatApi({ baseUrl: `http://127.0.0.1:${proc.port}` });
    const { token } = await api.createApplication("worker metrics");
    await api.createChat(token); // retried through the first-start fence (503 Retry-After)
    for (const body of ["a", "b", "c"]) await api.sendMessage(token, 1, body);
    // Persisted: the chat's count comes from MySQL once the worker committed all three.
    await eventually(async () => (await api.getChat(token, 1)).messages_count === 3, 30_000, "the writes to be persisted");

    const samples = await scrape(url);
    const batches = valueOf(samples, "chat_worker_batches_total") - before;
    assert.ok(batches >= 1 && batches <= 4, `one to four batches carried the chat and three messages, got ${batches}`);
    assert.ok(valueOf(samples, "chat_worker_lag_seconds") >= 0);
    assert.ok(samples.some((s) => s.name === "process_resident_memory_bytes"), "process metrics too");
  });
});
