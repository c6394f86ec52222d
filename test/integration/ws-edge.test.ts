import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { pack, unpack } from "msgpackr";
import WebSocket from "ws";
import { Api } from "../support/http.js";
import { startInProcess, type InProcessServer, type Mode } from "../support/in-process.js";

// Client frames at the edge of the /ws protocol: op names that are built-in
// object properties, and text frames that are not UTF-8.

type Frame = Record<string, any> & { op: string };

/** Connects and collects frames; `next` resolves with the next frame or the close. */
async function connect(url: string, protocol?: "chat.v1.msgpack") {
  const socket = new WebSocket(url, protocol ? [protocol] : []);
  const frames: Frame[] = [];
  const waiters: (() => void)[] = [];
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  socket.on("message", (data: Buffer, isBinary: boolean) => {
    frames.push(isBinary ? (unpack(data) as Frame) : (JSON.parse(data.toString("utf8")) as Frame));
    wake();
  });
  const closed = new Promise<number>((resolve) => socket.once("close", (code: number) => (resolve(code), wake())));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  let read = 0;
  return {
    socket,
    closed,
    send: (frame: unknown) => (protocol ? socket.send(pack(frame), { binary: true }) : socket.send(JSON.stringify(frame))),
    async next(): Promise<Frame | null> {
      while (read >= frames.length) {
        if (socket.readyState === WebSocket.CLOSED) return null;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
      return frames[read++]!;
    },
  };
}

for (const mode of ["embedded", "cluster"] as Mode[]) describe(`WebSocket protocol edge (${mode}, in process)`, () => {
  let target: InProcessServer;
  let url: string;

  before(async () => {
    target = await startInProcess(mode, "wsedge");
    url = `ws://127.0.0.1:${target.port}/ws`;
    // Waits out a fresh Redis's first-start fence, so stopping does not cut the recovery short.
    const api = new Api(target.base);
    const token = (await api.post("/api/v1/applications", { name: "ws-edge" })).json.token;
    assert.equal((await api.postReady(`/api/v1/applications/${token}/chats`, {})).status, 201);
  });
  after(async () => target?.stop());

  for (const protocol of [undefined, "chat.v1.msgpack"] as const) {
    it(`answers validation_failed for ops named after Object.prototype members (${protocol ?? "json"})`, async () => {
      const client = await connect(url, protocol);
      const ops = ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString", "__defineGetter__"];
      for (const op of ops) {
        client.send({ op, ref: op, app: "x" });
        const reply = await client.next();
        assert.equal(reply?.op, "error", op);
        assert.equal(reply.code, "validation_failed", `${op}: ${JSON.stringify(reply)}`);
        assert.equal(reply.ref, op);
        assert.deepEqual(reply.details.map((d: { field: string }) => d.field), ["op"], op);
      }
      client.send({ op: "ping", ref: "still-open" });
      assert.deepEqual(await client.next(), { op: "pong", ref: "still-open" });
      client.socket.close();
    });
  }

  it("answers not_found for an app that cannot be a token (non-ASCII used to fail in MySQL: unavailable)", async () => {
    const client = await connect(url);
    for (const app of ["💬💬💬", "é".repeat(22), "x", "no-such-application", "%E2%80%AE"]) {
      for (const frame of [{ op: "subscribe", app, chat: 1 }, { op: "subscribe", app }, { op: "send", app, chat: 1, body: "x" }]) {
        client.send({ ...frame, ref: "r" });
        const reply = await client.next();
        assert.deepEqual([reply?.op, reply?.code], ["error", "not_found"], `${JSON.stringify(frame)} → ${JSON.stringify(reply)}`);
      }
    }
    client.socket.close();
  });

  it("is cut by uWS, without a close frame (the client sees 1006), on a text frame that is not UTF-8", async () => {
    const bystander = await connect(url);
    const client = await connect(url);
    client.socket.send(Buffer.from([0x7b, 0x22, 0x6f, 0x70, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    assert.equal(await client.closed, 1006);
    bystander.send({ op: "ping", ref: 1 });
    assert.deepEqual(await bystander.next(), { op: "pong", ref: 1 });
    bystander.socket.close();
  });
});
