import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";
import { pino } from "pino";
import type uWS from "uWebSockets.js";
import WebSocket from "ws";
import { JoseUserTokens } from "../../src/adapters/jose/jose-user-tokens.js";
import { MemoryBus } from "../../src/adapters/memory/memory-bus.js";
import { MemoryBroker } from "../../src/adapters/memory/memory-broker.js";
import { MemoryPresence } from "../../src/adapters/memory/memory-presence.js";
import { MemoryWriteQueue } from "../../src/adapters/memory/memory-queue.js";
import { MemoryReadMarkers } from "../../src/adapters/memory/memory-read-markers.js";
import { MemoryStore } from "../../src/adapters/memory/memory-store.js";
import { AccessControl } from "../../src/domain/access-control.js";
import { PresenceService } from "../../src/domain/presence-service.js";
import { ReadMarkerService } from "../../src/domain/read-marker-service.js";
import type { ChatService } from "../../src/domain/chat-service.js";
import { notFound } from "../../src/domain/errors.js";
import { chatChannel, encodeLiveBatch } from "../../src/domain/live-batch.js";
import type { Message } from "../../src/domain/types.js";
import { OriginPolicy } from "../../src/transport/origin-policy.js";
import { nativeUws } from "../../src/transport/uws.js";
import { mountRealtime, type Realtime } from "../../src/transport/ws/ws-server.js";
import { eventually } from "../support/env.js";

// The resume algorithm of src/transport/ws/subscription.ts and the ordered
// stream of src/transport/ws/feeds.ts, step by step, with the races of a
// cluster played deterministically: a scripted service whose log reads wait
// for the test, and live frames published between them as the chat log
// would (or lost, or late). Real uWS server, real sockets.

const APP = "app-token-for-resume-01";
const CHAT = 1;

/** The chat log as the test scripts it: readable entries, and reads that park until released. */
class ScriptedService {
  readonly visible = new Map<number, Message>();
  readonly reads: { after: number; release: () => void }[] = [];
  gated = true;
  head = 0;

  message(number: number, body = `m${number}`): Message {
    return { app: APP, chat: CHAT, number, body, createdAt: 1_700_000_000_000 + number, updatedAt: 1_700_000_000_000 + number };
  }
  show(...numbers: number[]): void {
    for (const n of numbers) {
      this.visible.set(n, this.message(n));
      this.head = Math.max(this.head, n);
    }
  }

  async getApplication(app: string): Promise<unknown> {
    if (app !== APP) throw notFound("application");
    return {};
  }
  async getChat(app: string, chat: number): Promise<unknown> {
    if (app !== APP || chat !== CHAT) throw notFound("chat");
    return {};
  }
  async latestNumber(): Promise<number> {
    return this.head;
  }
  async messagesSince(_app: string, _chat: number, since: number, limit: number): Promise<Message[]> {
    if (this.gated) await new Promise<void>((release) => this.reads.push({ after: since, release }));
    return [...this.visible.values()]
      .filter((m) => m.number > since)
      .sort((a, b) => a.number - b.number)
      .slice(0, limit);
  }
}

/** A MemoryBus whose connection the test can "break": the reconnect handlers run as after a Redis pub/sub reconnect. */
class BreakableBus extends MemoryBus {
  private readonly reconnected: (() => void)[] = [];
  override onReconnect(handler: () => void): void {
    this.reconnected.push(handler);
  }
  reconnect(): void {
    for (const handler of this.reconnected) handler();
  }
}

class Client {
  readonly frames: any[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly listeners = new Set<() => void>();

  constructor(readonly socket: WebSocket) {
    socket.on("message", (data: Buffer) => {
      this.frames.push(JSON.parse(data.toString()));
      for (const l of [...this.listeners]) l();
    });
    this.closed = new Promise((resolve) => socket.once("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
  }

  static async open(port: number): Promise<Client> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const client = new Client(socket);
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    return client;
  }

  send(frame: object): void {
    this.socket.send(JSON.stringify(frame));
  }

  until<T>(check: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const listener = (): void => {
        const value = check();
        if (value === undefined || value === false) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(value);
      };
      this.listeners.add(listener);
      listener();
    });
  }

  numbers(): number[] {
    return this.frames.filter((f) => f.op === "message").map((f) => f.number);
  }
}

interface Rig {
  service: ScriptedService;
  bus: BreakableBus;
  realtime: Realtime;
  port: number;
  /** Publishes a batch on the chat's channel, as the chat log's append does. */
  publish(...numbers: number[]): void;
  /** Appends: readable and published in one step. */
  append(...numbers: number[]): void;
  close(): Promise<void>;
}

async function rig(options: { pageSize?: number; maxBuffered?: number; maxBackpressureBytes?: number } = {}): Promise<Rig> {
  const uws = nativeUws();
  const app = uws.App();
  const service = new ScriptedService();
  const bus = new BreakableBus();
  // No application here has credentials (every one is open) and no socket a user: read markers and presence stay unused.
  const store = new MemoryStore();
  const chats = service as unknown as ChatService;
  const realtime = mountRealtime(app, {
    service: chats,
    access: new AccessControl({ store, tokens: new JoseUserTokens(), newSecret: () => "", secretGraceMs: 0, now: Date.now }),
    readMarkers: new ReadMarkerService({ chats, store, recent: new MemoryReadMarkers(), queue: new MemoryWriteQueue(new MemoryBroker()), now: Date.now, onMarked: () => undefined }),
    presence: new PresenceService({ presence: new MemoryPresence(), chats, process: "rig", ttlMs: 20_000, watched: () => [], onJoined: () => undefined, onLeft: () => undefined, onError: () => undefined }),
    origins: new OriginPolicy([]),
    bus,
    log: pino({ level: "silent" }),
    limits: { maxPayloadBytes: 128 * 1024, maxSubscriptions: 10, sendsPerSecond: 1000, maxBackpressureBytes: options.maxBackpressureBytes ?? 1024 * 1024, idleTimeoutSeconds: 60 },
    resume: { pageSize: options.pageSize ?? 5, maxBuffered: options.maxBuffered ?? 10_000 },
  });
  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
    app.listen("127.0.0.1", 0, (s) => (s ? resolve(s) : reject(new Error("listen failed")))),
  );
  const publish = (...numbers: number[]): void =>
    void bus.publish(chatChannel(APP, CHAT), encodeLiveBatch({ kind: "created", messages: numbers.map((n) => service.message(n)) }));
  return {
    service,
    bus,
    realtime,
    port: uws.us_socket_local_port(listenSocket as unknown as uWS.us_socket),
    publish,
    append(...numbers) {
      service.show(...numbers);
      publish(...numbers);
    },
    async close() {
      uws.us_listen_socket_close(listenSocket);
      await realtime.close();
      await bus.close();
    },
  };
}

/** Waits until the replay is parked on a read after `after`, and returns its release. */
async function readParked(r: Rig, after: number): Promise<() => void> {
  const read = await eventually(() => r.service.reads.find((x) => x.after === after), 10_000, `a replay read after ${after}`);
  r.service.reads.splice(r.service.reads.indexOf(read), 1);
  return read.release;
}

/** Lets the MemoryBus deliver what was published (it delivers on a microtask). */
const busTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("resume: no gap and no duplicate under cross-process races", () => {
  const rigs: Rig[] = [];
  const sockets: Client[] = [];
  afterEach(async () => {
    for (const c of sockets.splice(0)) c.socket.terminate();
  });
  after(async () => {
    for (const r of rigs) await r.close();
  });

  it("replays, sends the buffered frames above the replay, catches up by number, then joins the topic", async () => {
    const r = await rig({ pageSize: 5 });
    rigs.push(r);
    r.service.show(1, 2, 3, 4, 5, 6, 7);
    const c = await Client.open(r.port);
    sockets.push(c);
    c.send({ op: "subscribe", ref: "s", app: APP, chat: CHAT, since: 2 });

    // Page 1 (after 2) is parked: 8 is appended meanwhile (so page 2 returns it too).
    let release = await readParked(r, 2);
    r.append(8);
    await busTurn();
    release();
    // Page 2 (after 7) is parked: 9 is appended, then 10 is readable but its frame is still on its way.
    release = await readParked(r, 7);
    r.append(9);
    r.service.show(10);
    await busTurn();
    release();

    const subscribed = await c.until(() => c.frames.find((f) => f.op === "subscribed"), "subscribed");
    assert.deepEqual(subscribed, { op: "subscribed", ref: "s", app: APP, chat: CHAT, replayed: 8 });
    assert.deepEqual(c.numbers(), [3, 4, 5, 6, 7, 8, 9, 10], "the replay; the buffered 8 and 9 were in it");
    assert.equal(r.realtime.stats().resuming, 1, "catching up: the stream has not delivered 10 yet");

    // The late frame of 10 comes, with 11 in the same batch: 10 is dropped (sent), 11 passes, and the socket joins the topic.
    r.publish(10, 11);
    await c.until(() => c.numbers().includes(11), "11");
    assert.equal(r.realtime.stats().resuming, 0, "on the shared topic now");
    r.append(12);
    await c.until(() => c.numbers().includes(12), "12");
    assert.deepEqual(c.numbers(), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it("an empty replay joins the topic at once; bus subscriptions are ref-counted", async () => {
    const r = await rig({ pageSize: 5 });
    rigs.push(r);
    r.service.gated = false;
    r.service.show(1, 2, 3);
    const c = await Client.open(r.port);
    sockets.push(c);
    c.send({ op: "subscribe", ref: "s", app: APP, chat: CHAT, since: 1 });
    await c.until(() => c.frames.find((f) => f.op === "subscribed"), "subscribed");
    assert.equal(r.realtime.stats().resuming, 0, "the stream was already at the replay's end");
    r.append(4);
    r.append(5);
    await c.until(() => c.numbers().includes(5), "5");
    assert.deepEqual(c.numbers(), [2, 3, 4, 5]);

    const d = await Client.open(r.port);
    sockets.push(d);
    d.send({ op: "subscribe", ref: "t", app: APP, chat: CHAT, since: 5 });
    assert.equal((await d.until(() => d.frames.find((f) => f.op === "subscribed"), "subscribed")).replayed, 0);
    assert.equal(r.realtime.stats().resuming, 0);

    assert.equal(r.realtime.stats().feeds, 1);
    c.send({ op: "unsubscribe", ref: "u", app: APP, chat: CHAT });
    await c.until(() => c.frames.find((f) => f.op === "unsubscribed"), "unsubscribed");
    assert.equal(r.realtime.stats().feeds, 1);
    d.socket.close();
    await d.closed;
    await eventually(() => r.realtime.stats().feeds === 0, 10_000, "the bus channel to be released");
  });

  it("repairs a jump in the stream (lost frames) from the log before delivering what follows", async () => {
    const r = await rig({ pageSize: 5 });
    rigs.push(r);
    r.service.show(1, 2, 3);
    r.service.gated = false;
    const c = await Client.open(r.port);
    sockets.push(c);
    c.send({ op: "subscribe", ref: "s", app: APP, chat: CHAT }); // live only: from the stream's position, 3
    await c.until(() => c.frames.find((f) => f.op === "subscribed"), "subscribed");
    r.append(4);
    await c.until(() => c.numbers().includes(4), "4");
    // 5..11 are appended but their frames are lost; 12's frame arrives.
    r.service.show(5, 6, 7, 8, 9, 10, 11);
    r.service.gated = true;
    r.append(12);
    const release = await readParked(r, 4); // the repair reads the log after the last delivered number
    r.append(13); // held while the repair runs
    await busTurn();
    release();
    (await readParked(r, 9))(); // the second page of the repair (page size 5)
    await c.until(() => c.numbers().includes(13), "13");
    assert.deepEqual(c.numbers(), [4, 5, 6, 7, 8, 9, 10, 11, 12, 13], "every number once, in order");
  });

  it("after the bus reconnected, catches up from the log what was published while it was away", async () => {
    const r = await rig({ pageSize: 5 });
    rigs.push(r);
    r.service.gated = false;
    r.service.show(1);
    const c = await Client.open(r.port);
    sockets.push(c);
    c.send({ op: "subscribe", ref: "s", app: APP, chat: CHAT, since: 0 });
    await c.until(() => c.frames.find((f) => f.op === "subscribed"), "subscribed");
    // Published while the connection was down: nothing reaches the process, and no later frame reveals it.
    r.service.show(2, 3);
    r.bus.reconnect();
    await c.until(() => c.numbers().includes(3), "3");
    r.append(4);
    await c.until(() => c.numbers().includes(4), "4");
    assert.deepEqual(c.numbers(), [1, 2, 3, 4]);
  });

  it("joins the topic only once the stream has handed out the replay's end, even while frames wait for the sweep budget", async () => {
    // A 64 KiB backlog limit gives an 8 KiB budget per sweep: a batch of 2 KB messages is handed out over several iterations.
    const r = await rig({ pageSize: 50, maxBackpressureBytes: 64 * 1024 });
    rigs.push(r);
    r.service.gated = false;
    const big = (n: number): Message => r.service.message(n, `${n} ${"b".repeat(2000)}`);
    const bulk = Array.from({ length: 40 }, (_, i) => big(i + 1));
    const watcher = await Client.open(r.port); // keeps the feed (and its position) alive
    sockets.push(watcher);
    watcher.send({ op: "subscribe", ref: "w", app: APP, chat: CHAT });
    await watcher.until(() => watcher.frames.find((f) => f.op === "subscribed"), "subscribed");
    // The whole batch is readable and published at once; the resuming socket's replay returns all of it
    // while most of its frames still wait for the budget.
    for (const m of bulk) r.service.visible.set(m.number, m);
    r.service.head = 40;
    void r.bus.publish(chatChannel(APP, CHAT), encodeLiveBatch({ kind: "created", messages: bulk }));
    const c = await Client.open(r.port);
    sockets.push(c);
    c.send({ op: "subscribe", ref: "s", app: APP, chat: CHAT, since: 0 });
    await c.until(() => c.frames.find((f) => f.op === "subscribed"), "subscribed");
    r.append(41);
    await c.until(() => c.numbers().includes(41), "41");
    await watcher.until(() => watcher.numbers().includes(41), "41 on the watcher");
    assert.deepEqual(c.numbers(), Array.from({ length: 41 }, (_, i) => i + 1), "every number once, in order");
    assert.deepEqual(watcher.numbers(), Array.from({ length: 41 }, (_, i) => i + 1));
  });

  it("closes with 4008 a resuming socket whose buffered live events pass the bound", async () => {
    const r = await rig({ maxBuffered: 3 });
    rigs.push(r);
    r.service.show(1, 2);
    const c = await Client.open(r.port);
    sockets.push(c);
    c.send({ op: "subscribe", ref: "s", app: APP, chat: CHAT, since: 0 });
    const release = await readParked(r, 0);
    for (const n of [3, 4, 5, 6]) r.append(n);
    await busTurn();
    assert.deepEqual(await c.closed, { code: 4008, reason: "slow consumer" });
    release();
    await eventually(() => r.realtime.stats().feeds === 0 && r.realtime.stats().connections === 0, 10_000, "cleanup after close");
  });

  it("paces a long replay by the socket's backlog instead of dropping a reader that is merely slow", async () => {
    const r = await rig({ pageSize: 200, maxBackpressureBytes: 64 * 1024 });
    rigs.push(r);
    r.service.gated = false;
    const big = "y".repeat(4000);
    for (let n = 1; n <= 5000; n++) r.service.visible.set(n, r.service.message(n, big));
    const c = await Client.open(r.port);
    sockets.push(c);
    const tcp = (c.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    tcp.pause();
    c.send({ op: "subscribe", ref: "s", app: APP, chat: CHAT, since: 0 });
    // ~20 MB of replay (more than the kernel's socket buffers) against a 64 KiB backlog limit,
    // read in short bursts.
    const reader = setInterval(() => {
      tcp.resume();
      setTimeout(() => tcp.pause(), 5);
    }, 10);
    try {
      await c.until(() => c.frames.some((f) => f.op === "subscribed"), "the whole replay", 60_000);
    } finally {
      clearInterval(reader);
      tcp.resume();
    }
    const numbers = c.numbers();
    assert.equal(numbers.length, 5000);
    assert.deepEqual(numbers, Array.from({ length: 5000 }, (_, i) => i + 1));
    assert.equal(r.realtime.stats().slowConsumers, 0);
  });
});
