// The server's own ceiling: the same uWebSockets.js routes with no backend.
// A message create reads the body, parses the same JSON, validates it, takes
// a number from an in-memory counter and answers 201 with the product's
// message shape. Reads serialize a fixed page / message of the same shape.
// /ws answers `send` with an `ack` at once and fans out to local subscribers
// through uWS topics (one process, no Redis), which gives the floor for the
// realtime scenarios. Nothing here is durable; it is the upper bound the
// transport allows on this machine with this load generator.
//
// env: PORT (0 = any), HOST
import uWS from "uWebSockets.js";

if (!String(uWS.App).includes("[native code]")) throw new Error("uWebSockets.js native binary did not load");

const MAX_REQUEST = 1024 * 1024;
const MAX_BODY_BYTES = 65_536;
const counters = new Map<string, number>();
const next = (key: string): number => {
  const n = (counters.get(key) ?? 0) + 1;
  counters.set(key, n);
  return n;
};

const app = uWS.App();

function reply(res: uWS.HttpResponse, status: string, json: string): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader("Content-Type", "application/json").end(json);
  });
}

app.post("/api/v1/applications/:token/chats/:chat/messages", (res, req) => {
  const token = req.getParameter(0) ?? "";
  const chat = Number(req.getParameter(1));
  const contentType = req.getHeader("content-type");
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  const chunks: Buffer[] = [];
  let size = 0;
  res.onData((chunk, isLast) => {
    size += chunk.byteLength;
    if (size > MAX_REQUEST) {
      if (!aborted) reply(res, "413 Payload Too Large", '{"error":{"code":"payload_too_large","message":"too large"}}');
      aborted = true;
      return;
    }
    chunks.push(Buffer.from(chunk.slice(0)));
    if (!isLast || aborted) return;
    const raw = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString("utf8");
    let input: { body?: unknown };
    try {
      input = contentType.startsWith("application/x-www-form-urlencoded") ? Object.fromEntries(new URLSearchParams(raw)) : JSON.parse(raw);
    } catch {
      return reply(res, "400 Bad Request", '{"error":{"code":"invalid_json","message":"the request body is not valid JSON"}}');
    }
    const body = input?.body;
    if (typeof body !== "string" || body.length === 0 || Buffer.byteLength(body) > MAX_BODY_BYTES || !body.isWellFormed()) {
      return reply(res, "400 Bad Request", '{"error":{"code":"validation_failed","message":"the request is not valid"}}');
    }
    const topic = `${token}/${chat}`;
    const number = next(topic);
    const now = new Date().toISOString();
    reply(res, "201 Created", JSON.stringify({ number, chat_number: chat, body, created_at: now, updated_at: now }));
    if (app.numSubscribers(topic) > 0) app.publish(topic, JSON.stringify({ op: "message", app: token, chat, number, body, created_at: now }));
  });
});

// A page and a message of the product's shapes, serialized per request.
const t0 = new Date().toISOString();
const page = Array.from({ length: 50 }, (_, i) => ({ number: 1000 - i, chat_number: 1, body: `bench message ${1000 - i}`, created_at: t0, updated_at: t0 }));

app.get("/api/v1/applications/:token/chats/:chat/messages", (res, req) => {
  const chat = Number(req.getParameter(1));
  reply(res, "200 OK", JSON.stringify({ data: page.map((m) => ({ ...m, chat_number: chat })), next: "951" }));
});

app.get("/api/v1/applications/:token/chats/:chat/messages/:number", (res, req) => {
  const chat = Number(req.getParameter(1));
  const number = Number(req.getParameter(2));
  reply(res, "200 OK", JSON.stringify({ number, chat_number: chat, body: `bench message ${number}`, created_at: t0, updated_at: t0 }));
});

app.get("/healthz", (res) => reply(res, "200 OK", '{"status":"ok"}'));

interface WsOp {
  op?: string;
  ref?: unknown;
  app?: string;
  chat?: number;
  body?: unknown;
}

app.ws<Record<string, never>>("/ws", {
  maxPayloadLength: 128 * 1024,
  idleTimeout: 60,
  message(ws, message) {
    let op: WsOp;
    try {
      op = JSON.parse(Buffer.from(message).toString("utf8")) as WsOp;
    } catch {
      ws.send('{"op":"error","code":"invalid_json","message":"frame is not JSON"}');
      return;
    }
    const topic = `${op.app}/${op.chat}`;
    switch (op.op) {
      // Replies as the product's /ws protocol (src/transport/ws/PROTOCOL.md) names them.
      case "subscribe":
        ws.subscribe(topic);
        ws.send(JSON.stringify({ op: "subscribed", ...(op.ref !== undefined ? { ref: op.ref } : {}), app: op.app, chat: op.chat }));
        return;
      case "unsubscribe":
        ws.unsubscribe(topic);
        ws.send(JSON.stringify({ op: "unsubscribed", ...(op.ref !== undefined ? { ref: op.ref } : {}), app: op.app, chat: op.chat }));
        return;
      case "ping":
        ws.send(JSON.stringify({ op: "pong", ...(op.ref !== undefined ? { ref: op.ref } : {}) }));
        return;
      case "send": {
        if (typeof op.body !== "string" || op.body.length === 0) {
          ws.send(JSON.stringify({ op: "error", ref: op.ref, code: "validation_failed", message: "body must be text" }));
          return;
        }
        const number = next(topic);
        ws.send(JSON.stringify({ op: "ack", ref: op.ref, number }));
        if (app.numSubscribers(topic) > 0) {
          app.publish(topic, JSON.stringify({ op: "message", app: op.app, chat: op.chat, number, body: op.body, created_at: new Date().toISOString() }));
        }
        return;
      }
      default:
        ws.send(JSON.stringify({ op: "error", ref: op.ref, code: "unknown_op", message: "unknown op" }));
    }
  },
});

app.listen(process.env.HOST ?? "127.0.0.1", Number(process.env.PORT ?? 0), (socket) => {
  if (!socket) throw new Error("ceiling: cannot listen");
  const port = uWS.us_socket_local_port(socket as unknown as uWS.us_socket);
  process.stdout.write(`${JSON.stringify({ msg: "ceiling listening", port, pid: process.pid })}\n`);
});

process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
