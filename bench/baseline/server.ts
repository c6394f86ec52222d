// The reference design most chat-backend submissions ship: a plain node:http
// server that writes through to MySQL on the request path. Each message create
// is one transaction that locks the chat row to take the next number:
//
//   BEGIN
//   SELECT id FROM applications WHERE token = ?
//   SELECT id, messages_count FROM chats WHERE application_id = ? AND number = ? FOR UPDATE
//   INSERT INTO messages (chat_id, number, body, created_at, updated_at) VALUES (…)
//   UPDATE chats SET messages_count = ?, updated_at = ? WHERE id = ?
//   COMMIT
//
// Same request and response shapes as the product for the routes the bench
// drives (create message, newest page, one message), same schema (sql/),
// its own database. No Redis, no queue, no search: the point is the cost of
// a durable, numbered write done synchronously.
//
// env: BASELINE_MYSQL_URL (with database), PORT (0 = any), HOST, BASELINE_POOL (default 20)
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import mysql, { type PoolConnection, type RowDataPacket } from "mysql2/promise";

const url = process.env.BASELINE_MYSQL_URL;
if (!url) throw new Error("BASELINE_MYSQL_URL is required");
const pool = mysql.createPool({
  uri: url,
  connectionLimit: Number(process.env.BASELINE_POOL ?? 20),
  timezone: "Z",
  enableKeepAlive: true,
});

const MAX_REQUEST = 1024 * 1024;
const MAX_BODY_BYTES = 65_536;
const ROUTE = /^\/api\/v1\/applications\/([A-Za-z0-9_-]+)\/chats\/(\d{1,10})\/messages(?:\/(\d{1,10}))?\/?$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface MessageRow {
  number: number;
  chat_number: number;
  body: string;
  created_at: Date;
  updated_at: Date;
}

const messageJson = (m: MessageRow) => ({
  number: m.number,
  chat_number: m.chat_number,
  body: m.body,
  created_at: new Date(m.created_at).toISOString(),
  updated_at: new Date(m.updated_at).toISOString(),
});

async function createMessage(token: string, chat: number, body: string): Promise<MessageRow> {
  const conn: PoolConnection = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const [apps] = await conn.execute<RowDataPacket[]>("SELECT id FROM applications WHERE token = ?", [token]);
    if (!apps[0]) throw new HttpError(404, "not_found", "application not found");
    const [chats] = await conn.execute<RowDataPacket[]>(
      "SELECT id, messages_count FROM chats WHERE application_id = ? AND number = ? FOR UPDATE",
      [apps[0].id, chat],
    );
    if (!chats[0]) throw new HttpError(404, "not_found", "chat not found");
    const number = Number(chats[0].messages_count) + 1;
    const now = new Date();
    await conn.execute("INSERT INTO messages (chat_id, number, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)", [
      chats[0].id,
      number,
      body,
      now,
      now,
    ]);
    await conn.execute("UPDATE chats SET messages_count = ?, updated_at = ? WHERE id = ?", [number, now, chats[0].id]);
    await conn.commit();
    return { number, chat_number: chat, body, created_at: now, updated_at: now };
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  } finally {
    conn.release();
  }
}

const FROM =
  "FROM messages m JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id WHERE a.token = ? AND c.number = ?";

async function newestPage(token: string, chat: number, limit: number): Promise<{ data: unknown[]; next: string | null }> {
  const [chats] = await pool.execute<RowDataPacket[]>(
    "SELECT c.id FROM chats c JOIN applications a ON a.id = c.application_id WHERE a.token = ? AND c.number = ?",
    [token, chat],
  );
  if (!chats[0]) throw new HttpError(404, "not_found", "chat not found");
  const [rows] = await pool.execute<RowDataPacket[]>(
    `SELECT m.number, c.number AS chat_number, m.body, m.created_at, m.updated_at ${FROM} ORDER BY m.number DESC LIMIT ${limit + 1}`,
    [token, chat],
  );
  const data = rows.slice(0, limit).map((r) => messageJson(r as MessageRow));
  return { data, next: rows.length > limit ? String(rows[limit - 1]!.number) : null };
}

async function oneMessage(token: string, chat: number, number: number): Promise<unknown> {
  const [rows] = await pool.execute<RowDataPacket[]>(
    `SELECT m.number, c.number AS chat_number, m.body, m.created_at, m.updated_at ${FROM} AND m.number = ?`,
    [token, chat, number],
  );
  if (!rows[0]) throw new HttpError(404, "not_found", "message not found");
  return messageJson(rows[0] as MessageRow);
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST) reject(new HttpError(413, "payload_too_large", "request body too large"));
      else chunks.push(chunk);
    });
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
      try {
        resolve(type === "application/x-www-form-urlencoded" ? Object.fromEntries(new URLSearchParams(raw)) : raw ? JSON.parse(raw) : {});
      } catch {
        reject(new HttpError(400, "invalid_json", "the request body is not valid JSON"));
      }
    });
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  res.end(json);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const [path, query = ""] = (req.url ?? "/").split("?", 2) as [string, string?];
  if (path === "/healthz") return send(res, 200, { status: "ok" });
  const m = ROUTE.exec(path);
  if (!m) throw new HttpError(404, "not_found", "no such endpoint");
  const token = m[1]!;
  const chat = Number(m[2]);
  if (req.method === "POST" && m[3] === undefined) {
    const input = (await readJson(req)) as { body?: unknown };
    const body = input?.body;
    if (typeof body !== "string" || body.length === 0 || Buffer.byteLength(body) > MAX_BODY_BYTES) {
      throw new HttpError(400, "validation_failed", "body must be 1-65536 bytes of text");
    }
    return send(res, 201, messageJson(await createMessage(token, chat, body)));
  }
  if (req.method === "GET" && m[3] === undefined) {
    const limit = Math.min(200, Math.max(1, Number(new URLSearchParams(query).get("limit") ?? 50) || 50));
    return send(res, 200, await newestPage(token, chat, limit));
  }
  if (req.method === "GET") return send(res, 200, await oneMessage(token, chat, Number(m[3])));
  throw new HttpError(405, "method_not_allowed", "method not allowed");
}

let failures = 0;
const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    if (err instanceof HttpError) return send(res, err.status, { error: { code: err.code, message: err.message } });
    if (++failures <= 20) process.stderr.write(`baseline: request failed: ${err instanceof Error ? err.message : String(err)}\n`);
    send(res, 503, { error: { code: "unavailable", message: "a backend is unavailable; retry shortly" } });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ msg: "baseline listening", port: (server.address() as AddressInfo).port, pid: process.pid })}\n`);
});

const stop = (): void => {
  server.close();
  server.closeAllConnections();
  void pool.end().finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
