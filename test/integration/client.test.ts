import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { ApiError, ChatApi, ChatSocket, pages, type ChatSocketOptions, type LiveMessage, type StateChange } from "../../client/index.js";
import { msgpackCodec } from "../../client/msgpack.js";
import { loadConfig } from "../../src/config.js";
import { eventually } from "../support/env.js";
import { Restartable } from "../support/restartable.js";

// The client in client/ (the one the demo page uses) against a real server
// in this process, on the embedded adapters. A "restart" closes the server
// (every socket gets 1001) and starts a new one on the same port over the same
// backends, so the data survives as it would in cluster mode.

const ADMIN_KEY = "client-admin-key-0123456789";

interface Recorded {
  method: string;
  path: string;
  key: string | null;
  status: number;
}

/** The global fetch, recording what went out and what came back (observation only). */
function recordingFetch(log: Recorded[]): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    const headers = new Headers(init?.headers);
    log.push({ method: init?.method ?? "GET", path: new URL(String(input)).pathname, key: headers.get("idempotency-key"), status: res.status });
    return res;
  };
}

/** The `ws` WebSocket, keeping every frame the client sent. */
function recordingWebSocket(sent: Record<string, unknown>[]): typeof WebSocket {
  return class extends WebSocket {
    override send(data: string): void {
      sent.push(JSON.parse(data) as Record<string, unknown>);
      super.send(data);
    }
  };
}

function assertExactlyOnceInOrder(numbers: number[], expected: number[]): void {
  assert.deepEqual(numbers, expected, "every number once, increasing");
}

describe("client: REST", () => {
  let target: Restartable;
  let api: ChatApi;

  before(async () => {
    target = new Restartable(loadConfig({ HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "silent", ADMIN_KEY, CREATES_PER_SECOND_PER_TOKEN: "1" }));
    await target.start();
    api = new ChatApi({ baseUrl: target.base });
  });
  after(() => target?.close());

  it("covers every endpoint: applications, chats, messages, pages and search", async () => {
    const app = await api.createApplication("client");
    assert.match(app.token, /^[A-Za-z0-9_-]{22}$/);
    assert.equal((await api.getApplication(app.token)).name, "client");
    assert.equal((await api.renameApplication(app.token, "renamed")).name, "renamed");
    const listed = [];
    for await (const page of pages((after) => api.listApplications(ADMIN_KEY, { after, limit: 1 }))) listed.push(...page);
    assert.ok(listed.some((a) => a.token === app.token));
    await assert.rejects(api.listApplications("wrong-admin-key-0123456789"), (err: unknown) => err instanceof ApiError && err.status === 401 && err.code === "unauthorized");

    const chat = await api.createChat(app.token, "general");
    assert.deepEqual([chat.number, chat.name], [1, "general"]);
    assert.equal((await api.getChat(app.token, 1)).name, "general");
    assert.equal((await api.renameChat(app.token, 1, "random")).name, "random");

    // One create per second per token here: every further create waits out a 429 by itself.
    const sent = [];
    for (const body of ["Hello, world!", "second", "third"]) sent.push(await api.sendMessage(app.token, 1, body));
    assert.deepEqual(sent.map((m) => m.number), [1, 2, 3]);
    assert.equal((await api.getMessage(app.token, 1, 2)).body, "second");
    assert.equal((await api.editMessage(app.token, 1, 2, "edited")).body, "edited");
    assert.deepEqual((await api.listMessages(app.token, 1)).data.map((m) => m.number), [3, 2, 1]);
    assert.deepEqual((await api.listMessages(app.token, 1, { after: 1 })).data.map((m) => m.number), [2, 3]);
    const older = [];
    for await (const page of pages((before) => api.listMessages(app.token, 1, { before: before ?? 4, limit: 2 }))) older.push(...page.map((m) => m.number));
    assert.deepEqual(older, [3, 2, 1], "keyset pages going back");
    const chats = [];
    for await (const page of pages((after) => api.listChats(app.token, { after, limit: 1 }))) chats.push(...page.map((c) => c.number));
    assert.deepEqual(chats, [1]);

    const hits = await eventually(async () => {
      const page = await api.searchMessages(app.token, 1, "hel wor");
      return page.data.length > 0 && page;
    });
    assert.equal(hits.data[0]!.body, "Hello, world!");
    await assert.rejects(api.getMessage(app.token, 1, 99), (err: unknown) => err instanceof ApiError && err.status === 404 && err.code === "not_found");
  });

  it("honours Retry-After on 429 and retries a create under the same Idempotency-Key", async () => {
    const log: Recorded[] = [];
    const recorded = new ChatApi({ baseUrl: target.base, fetch: recordingFetch(log) });
    const { token } = await recorded.createApplication("retry");
    await recorded.createChat(token);
    const second = await recorded.createChat(token, "after a 429");
    assert.equal(second.number, 2);
    const creates = log.filter((r) => r.method === "POST" && r.path.endsWith("/chats"));
    assert.ok(creates.some((r) => r.status === 429), `the rate limit answered 429 at least once: ${JSON.stringify(creates)}`);
    assert.equal(creates.at(-1)!.status, 201);
    const keys = new Set(creates.slice(1).map((r) => r.key));
    assert.equal(keys.size, 1, "every attempt of the second create carried one key");
    assert.notEqual(creates[0]!.key, creates.at(-1)!.key, "each create has its own key");
    assert.match(creates[0]!.key!, /^[A-Za-z0-9_-]{22}$/);

    const impatient = new ChatApi({ baseUrl: target.base, maxRetryAfterMs: 10 });
    await impatient.createChat(token).catch(() => undefined); // takes the token if the bucket refilled
    await assert.rejects(impatient.createChat(token), (err: unknown) => err instanceof ApiError && err.status === 429 && err.code === "rate_limited");
  });
});

describe("client: socket", () => {
  let target: Restartable;
  let api: ChatApi;
  const sockets: ChatSocket[] = [];
  /** Closed after the suite even when a test fails half-way (a socket reconnects until closed). */
  const openSocket = (options: Omit<ChatSocketOptions, "api">): ChatSocket => {
    const socket = new ChatSocket({ api, ...options });
    sockets.push(socket);
    return socket;
  };

  before(async () => {
    target = new Restartable(loadConfig({ HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "silent" }));
    await target.start();
    api = new ChatApi({ baseUrl: target.base });
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await target?.close();
  });

  it("resumes after 1001 going away: nothing lost, nothing twice, an unacknowledged send re-sent under its key", async () => {
    const { token } = await api.createApplication("resume");
    await api.createChat(token);
    for (const body of ["one", "two", "three"]) await api.sendMessage(token, 1, body);

    const frames: Record<string, unknown>[] = [];
    const socket = openSocket({ WebSocket: recordingWebSocket(frames), backoff: { initialMs: 50, maxMs: 500 } });
    const states: StateChange[] = [];
    const received: LiveMessage[] = [];
    socket.on("state", (s) => states.push(s));
    socket.on("message", (m) => received.push(m));
    socket.connect();
    await socket.subscribe(token, 1);
    await eventually(() => received.length === 3, 10_000, "the replay");

    // Sent, then the server goes away in the same turn: the frame is never read, so no ack comes.
    const inFlight = socket.send(token, 1, "in flight");
    await target.stop();
    const queued = socket.send(token, 1, "queued while down");
    await target.start();
    for (const body of ["four", "five"]) await api.sendMessage(token, 1, body);

    const numbers = await Promise.all([inFlight, queued]);
    await eventually(() => received.length >= 7, 10_000, "every message after the restart");
    assertExactlyOnceInOrder(received.map((m) => m.number), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(received.filter((m) => m.body === "in flight").length, 1);
    assert.deepEqual(new Set(numbers.map((n) => n.number)).size, 2);

    const closed = states.find((s) => s.state === "reconnecting" && s.closeCode !== undefined);
    assert.equal(closed?.closeCode, 1001);
    assert.equal(states.at(-1)!.state, "open");
    const inFlightSends = frames.filter((f) => f.op === "send" && f.body === "in flight");
    assert.equal(inFlightSends.length, 2, "sent, then re-sent after the reconnect");
    assert.equal(inFlightSends[0]!.key, inFlightSends[1]!.key, "with the same idempotency key");
    assert.notEqual(inFlightSends[0]!.ref, inFlightSends[1]!.ref);
    const resubscribe = frames.filter((f) => f.op === "subscribe").at(-1)!;
    assert.equal(typeof resubscribe.since, "number", "resubscribed with since");
    assert.equal(socket.lastDelivered(token, 1), 7);

    socket.close();
    assert.equal(socket.state, "closed");
  });

  it("speaks MessagePack with msgpackCodec", async () => {
    const { token } = await api.createApplication("msgpack");
    await api.createChat(token);
    const socket = openSocket({ WebSocket, codec: msgpackCodec });
    const received: LiveMessage[] = [];
    socket.on("message", (m) => received.push(m));
    socket.connect();
    await socket.subscribe(token, 1);
    const { number } = await socket.send(token, 1, "über MessagePack ✓");
    await eventually(() => received.length === 1, 10_000, "the message");
    assert.deepEqual([received[0]!.number, received[0]!.body], [number, "über MessagePack ✓"]);
    socket.close();
  });

  it("rejects what the server refuses, and what could never be sent", async () => {
    const { token } = await api.createApplication("refusals");
    const socket = openSocket({ WebSocket });
    socket.connect();
    await assert.rejects(socket.subscribe(token, 5), { name: "SocketError", code: "not_found" });
    await assert.rejects(socket.send(token, 1, "x", { key: "has space" }), { code: "validation_failed" });
    await assert.rejects(socket.send(token, 1, "\u0001".repeat(60_000)), { code: "validation_failed" }); // 360 KB escaped: over the frame limit
    const pending = socket.send(token, 1, "never acknowledged");
    socket.close();
    await assert.rejects(pending, { code: "closed" });
  });
});
