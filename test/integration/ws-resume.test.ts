import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";
import { pino } from "pino";
import type uWS from "uWebSockets.js";
import WebSocket from "ws";
import { MemoryBus } from "../../src/adapters/memory/memory-bus.js";
import type { ChatService } from "../../src/domain/chat-service.js";
import { notFound } from "../../src/domain/errors.js";
import type { Message } from "../../src/domain/types.js";
import { nativeUws } from "../../src/transport/uws.js";
import { mountRealtime, type Realtime } from "../../src/transport/ws/ws-server.js";
import { eventually } from "../support/env.js";

// The resume algorithm of src/transport/ws/subscription.ts, step by step, with
// the races of a cluster played deterministically: a scripted service whose
// replay reads wait for the test, and live events injected between them as if
// they came from other processes (out of number order, late, or echoing a
// message the replay already sent). Real uWS server, real sockets.

const APP = "app-token-for-resume-tests";
const CHAT = 1;

/** Replay reads park here until the test releases them, so events can be injected in between. */
class ScriptedService {
  readonly visible = new Map<number, Message>();
  readonly reads: { after: number; release: () => void }[] = [];
  gated = true;

  message(number: number, body = `m${number}`): Message {
    return { app: APP, chat: CHAT, number, body, createdAt: 1_700_000_000_000 + number, updatedAt: 1_700_000_000_000 + number };
  }
  show(...numbers: number[]): void {
    for (const n of numbers) this.visible.set(n, this.message(n));
  }

  async getApplication(app: string): Promise<unknown> {
    if (app !== APP) throw notFound("application");
    return {};
  }
  async getChat(app: string, chat: number): Promise<unknown> {
    if (app !== APP || chat !== CHAT) throw notFound("chat");
    return {};
  }
  async messagesSince(_app: string, _chat: number, since: number, limit: number): Promise<Message[]> {
    if (this.gated) await new Promise<void>((release) => this.reads.push({ after: since, release }));
    return [...this.visible.values()]
      .filter((m) => m.number > since)
      .sort((a, b) => a.number - b.number)
      .slice(0, limit);
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
  realtime: Realtime;
  port: number;
  live(number: number): void;
  close(): Promise<void>;
}

async function rig(options: { pageSize?: number; settleMs?: number; maxBuffered?: number; maxBackpressureBytes?: number } = {}): Promise<Rig> {
  const uws = nativeUws();
  const app = uws.App();
  const service = new ScriptedService();
  const bus = new MemoryBus();
  const realtime = mountRealtime(app, {
    service: service as unknown as ChatService,
    bus,
    log: pino({ level: "silent" }),
    limits: { maxPayloadBytes: 128 * 1024, maxSubscriptions: 10, sendsPerSecond: 1000, maxBackpressureBytes: options.maxBackpressureBytes ?? 1024 * 1024, idleTimeoutSeconds: 60 },
    resume: { pageSize: options.pageSize ?? 5, settleMs: options.settleMs ?? 60_000, maxBuffered: options.maxBuffered ?? 10_000 },
  });
  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
    app.listen("127.0.0.1", 0, (s) => (s ? resolve(s) : reject(new Error("listen failed")))),
  );
  return {
    service,
    realtime,
    port: uws.us_socket_local_port(listenSocket as unknown as uWS.us_socket),
    // As if another process created it: through the service's onLive path and the Bus.
    live: (number) => realtime.onLive({ kind: "message", message: service.message(number) }),
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

  it("replays, filters buffered and settling events against replayed numbers and holes, then joins the topic", async () => {
    const r = await rig({ pageSize: 5, settleMs: 60_000 });
    rigs.push(r);
    // Readable now: 1..12 except 8 and 10, which other processes allocated but have not confirmed yet.
    r.service.show(1, 2, 3, 4, 5, 6, 7, 9, 11, 12);
    const c = await Client.open(r.port);
    sockets.push(c);
    c.send({ op: "subscribe", ref: "s", app: APP, chat: CHAT, since: 2 });

    // Page 1 is parked: a live event the replay will also return (3), and one the client already has (1).
    let release = await readParked(r, 2);
    r.live(3);
    r.live(1);
    await busTurn();
    release();

    // Page 2 is parked (after 7): an echo of a replayed number (5), a hole that became readable
    // elsewhere and whose event comes first (10), and a brand new message (13).
    release = await readParked(r, 7);
    r.live(5);
    r.live(10);
    r.live(13);
    await busTurn();
    release();

    const subscribed = await c.until(() => c.frames.find((f) => f.op === "subscribed"), "subscribed");
    assert.deepEqual(subscribed, { op: "subscribed", ref: "s", app: APP, chat: CHAT, replayed: 8 });
    assert.deepEqual(c.numbers(), [3, 4, 5, 6, 7, 9, 11, 12, 10, 13], "replay, then the buffered events that were not replayed, in number order");
    assert.equal(r.realtime.stats().resuming, 1, "still settling");

    // Settling: the echo of a replayed message (12) is dropped; the last hole (8) and a new one (14) pass.
    r.live(12);
    r.live(8);
    r.live(14);
    await c.until(() => c.numbers().includes(14), "14");
    assert.deepEqual(c.numbers(), [3, 4, 5, 6, 7, 9, 11, 12, 10, 13, 8, 14]);
  });

  it("after the settle window the socket reads from the shared topic", async () => {
    const r = await rig({ pageSize: 5, settleMs: 200 });
    rigs.push(r);
    r.service.gated = false;
    r.service.show(1, 2, 3);
    const c = await Client.open(r.port);
    sockets.push(c);
    c.send({ op: "subscribe", ref: "s", app: APP, chat: CHAT, since: 1 });
    await c.until(() => c.frames.find((f) => f.op === "subscribed"), "subscribed");
    await eventually(() => r.realtime.stats().resuming === 0, 10_000, "the settle window to end");
    r.live(4);
    r.live(5);
    await c.until(() => c.numbers().includes(5), "5");
    assert.deepEqual(c.numbers(), [2, 3, 4, 5]);

    // An empty replay has nothing to duplicate: straight to the topic.
    const d = await Client.open(r.port);
    sockets.push(d);
    d.send({ op: "subscribe", ref: "t", app: APP, chat: CHAT, since: 5 });
    assert.equal((await d.until(() => d.frames.find((f) => f.op === "subscribed"), "subscribed")).replayed, 0);
    assert.equal(r.realtime.stats().resuming, 0);

    // Bus subscriptions are ref-counted: gone once the last local subscriber leaves.
    assert.equal(r.realtime.stats().feeds, 1);
    c.send({ op: "unsubscribe", ref: "u", app: APP, chat: CHAT });
    await c.until(() => c.frames.find((f) => f.op === "unsubscribed"), "unsubscribed");
    assert.equal(r.realtime.stats().feeds, 1);
    d.socket.close();
    await d.closed;
    await eventually(() => r.realtime.stats().feeds === 0, 10_000, "the bus channel to be released");
  });

  it("closes with 4008 a resuming socket whose buffered live events pass the bound", async () => {
    const r = await rig({ maxBuffered: 3 });
    rigs.push(r);
    r.service.show(1, 2);
    const c = await Client.open(r.port);
    sockets.push(c);
    c.send({ op: "subscribe", ref: "s", app: APP, chat: CHAT, since: 0 });
    const release = await readParked(r, 0);
    for (const n of [3, 4, 5, 6]) r.live(n);
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
