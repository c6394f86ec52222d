import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { pack, unpack } from "msgpackr";
import WebSocket from "ws";
import { cleanupRun } from "../support/cleanup.js";
import { eventually, isolatedEnv } from "../support/env.js";
import { Api } from "../support/http.js";
import { runCli, spawnCli, type Proc } from "../support/processes.js";
import { rawRequest } from "../support/raw-http.js";

// Generated bad input, from a fixed seed, against an embedded and a
// cluster-mode server (real processes): REST requests written byte by byte
// over TCP and WebSocket frames in both encodings. Every input must be
// answered (or its connection closed) within DEADLINE_MS, a liveness bound;
// never with a 5xx; never with a stack trace or an internal id. Afterwards
// the server is alive and an application made before the fuzzing (whose
// token the fuzzer never uses) is exactly as it was.
//
// Not generated: what uWS's parser holds without calling any handler (request
// lines other than `METHOD /path HTTP/1.1`, header names outside [A-Za-z0-9-],
// control characters in header values, more than 48 header lines); http-edge
// documents those. Nor does any check assume unknown WebSocket fields are
// accepted or rejected.

const SEED = 0x5eed2026;
const REST_INPUTS = 6000;
const WS_INPUTS = 4000;
const DEADLINE_MS = 5000;
const REST_CONCURRENCY = 6;
const WS_SOCKETS = 3;

/** mulberry32: a tiny seeded PRNG, so every run generates the same inputs. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly random: () => number) {}
  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  text(max: number, alphabet = "abcXYZ019 _-.~!*'();:@&=+$,/?#[]%\"<>\\^`{|}é💬\u0000\n\t"): string {
    const chars = [...alphabet];
    return Array.from({ length: this.int(max + 1) }, () => this.pick(chars)).join("");
  }
  bytes(n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.int(256)));
  }
}

interface Tally {
  tried: number;
  fiveXX: number;
  hangs: number;
  leaks: number;
  /** What came back (status, WS reply code, or how the connection ended), to show what the inputs reached. */
  answers: Map<string, number>;
  examples: string[];
}

class Report {
  readonly families = new Map<string, Tally>();
  record(family: string, answer: string, outcome: { fiveXX?: boolean; hang?: boolean; leak?: boolean }, describe: () => string): void {
    let t = this.families.get(family);
    if (!t) this.families.set(family, (t = { tried: 0, fiveXX: 0, hangs: 0, leaks: 0, answers: new Map(), examples: [] }));
    t.tried++;
    t.answers.set(answer, (t.answers.get(answer) ?? 0) + 1);
    if (outcome.fiveXX) t.fiveXX++;
    if (outcome.hang) t.hangs++;
    if (outcome.leak) t.leaks++;
    if ((outcome.fiveXX || outcome.hang || outcome.leak) && t.examples.length < 5) t.examples.push(describe().slice(0, 300));
  }
  total(): number {
    return [...this.families.values()].reduce((n, t) => n + t.tried, 0);
  }
  print(mode: string): void {
    console.log(`fuzz (${mode}), seed ${SEED}: family — tried, 5xx, hangs, leaks — answers`);
    for (const [family, t] of [...this.families].sort(([a], [b]) => a.localeCompare(b))) {
      const answers = [...t.answers].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}×${n}`).join(" ");
      console.log(`  ${family.padEnd(14)} ${String(t.tried).padStart(5)} ${String(t.fiveXX).padStart(4)} ${String(t.hangs).padStart(4)} ${String(t.leaks).padStart(4)}  ${answers}`);
    }
  }
  failures(): string[] {
    return [...this.families].flatMap(([family, t]) => (t.fiveXX + t.hangs + t.leaks > 0 ? [`${family}: ${t.fiveXX} 5xx, ${t.hangs} hangs, ${t.leaks} leaks; e.g. ${t.examples.join(" | ")}`] : []));
  }
}

const FORBIDDEN_KEYS = new Set(["id", "_id", "application_id", "chat_id", "message_id", "app_id"]);
const STACK = /\n\s+at |\bat (?:async )?[\w$.<>]+ \(|node_modules|\.[jt]s:\d+:\d+/;

/** A stack line, an internal id key or a file location anywhere in text (and, when it is JSON, in its keys). */
function leaks(text: string): boolean {
  if (STACK.test(text)) return true;
  if (/"(?:id|_id|application_id|chat_id|message_id|app_id)"\s*:/.test(text)) return true;
  try {
    return hasForbiddenKey(JSON.parse(text));
  } catch {
    return false;
  }
}

function hasForbiddenKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasForbiddenKey);
  if (value && typeof value === "object") return Object.entries(value).some(([k, v]) => FORBIDDEN_KEYS.has(k) || hasForbiddenKey(v));
  return false;
}

// --- REST inputs

interface RestInput {
  family: string;
  method: string;
  target: string;
  headers: string[];
  body: Buffer;
}

const TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

function tokenShape(g: Gen, real: string): string {
  const shapes: (() => string)[] = [
    () => real,
    () => `%20${real}`,
    () => `${real}%20`,
    () => `+${real}`,
    () => real.toUpperCase(),
    () => real.slice(1),
    () => `${real}A`,
    () => [...real].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join(""),
    () => encodeURIComponent(`${real}é`),
    () => `${real}\u00e9`, // raw UTF-8 bytes in the target
    () => "💬".repeat(g.int(30) + 1),
    () => Array.from({ length: g.pick([0, 1, 21, 22, 23, 64, 65, 300, 3000]) }, () => g.pick([...TOKEN_CHARS])).join(""),
    () => g.pick(["%", "%zz", "%C0%AF", "%00", "%2F", "..", "%2e%2e", ".", "null", "undefined", "__proto__", "constructor", "%E2%80%AE", "%F0%9F", "0", "-1"]),
    () => encodeURIComponent(g.text(40)),
  ];
  return g.pick(shapes)();
}

function numberShape(g: Gen): string {
  return g.pick([
    "1", "2", "0", "-1", "1.5", "1e3", "0x10", "01", "+1", "%31", "%20%31", "1%20", "4294967295", "4294967296", "99999999999999999999",
    "NaN", "Infinity", "١", "½", "1,2", "", "%00", "abc", "9".repeat(400), String(g.int(10)), String(g.int(1_000_000_000)),
  ]);
}

function queryShape(g: Gen): string {
  const keys = ["limit", "after", "before", "q", "LIMIT", "after[]", "__proto__", "constructor", "", "x"];
  const values = ["", "0", "1", "-1", "200", "201", "1.5", "abc", "null", "%zz", "%00", "1e2", "9".repeat(30), "%E2%9C%93", "a%20b", "a+b", "x".repeat(g.pick([10, 600, 20000])), encodeURIComponent(g.text(30))];
  const n = g.int(5);
  const parts = Array.from({ length: n }, () => `${g.pick(keys)}=${g.pick(values)}`);
  if (g.chance(0.1)) parts.push(g.pick(["&&&", "=", "==", "a=1=2", "%", "q"]));
  return parts.length ? `?${parts.join("&")}` : g.pick(["", "?", "?&"]);
}

function pathFor(g: Gen, token: string): string {
  const chat = g.chance(0.7) ? "1" : numberShape(g);
  const message = g.chance(0.7) ? "1" : numberShape(g);
  return g.pick([
    "/api/v1/applications",
    `/api/v1/applications/${token}`,
    `/api/v1/applications/${token}/chats`,
    `/api/v1/applications/${token}/chats/${chat}`,
    `/api/v1/applications/${token}/chats/${chat}/messages`,
    `/api/v1/applications/${token}/chats/${chat}/messages/${message}`,
    `/api/v1/applications/${token}/chats/${chat}/messages/search`,
    `/api/v1/applications/${token}/chats/${chat}/read`,
    `/api/v1/applications/${token}/chats/${chat}/presence`,
    `/api/v1/applications/${token}/secret`,
  ]);
}

/** User tokens that are not: too few or many segments, bad base64, alg none, a payload that is not JSON. */
const MALFORMED_JWTS = [
  "a.b",
  "a.b.c.d",
  "!!!.***.???",
  `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from('{"sub":"x","exp":9999999999}').toString("base64url")}.`,
  `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from("not json").toString("base64url")}.c2ln`,
  `${"e".repeat(9000)}.e.e`,
];

const WRONG_VALUES: unknown[] = [null, 0, -1, 1.5, 4294967296, 1e308, true, false, "", " ", "x".repeat(70_000), [], [1, "a"], {}, { a: { b: null } }, "\ud800", "é💬\u0000", "0", "1", Number.MAX_SAFE_INTEGER];

function jsonBody(g: Gen): string {
  const field = g.pick(["name", "body", "utf8", "__proto__", "constructor", "NAME", ""]);
  const value = g.chance(0.3) ? g.text(300) : g.pick(WRONG_VALUES);
  const shapes: (() => string)[] = [
    () => JSON.stringify({ [field]: value }),
    () => JSON.stringify({ name: value, body: value }),
    () => `{"name":"a","name":${JSON.stringify(value)}}`, // duplicate keys
    () => `{"body":"x","body":null}`,
    () => "[".repeat(g.pick([100, 10_000, 200_000])) + "]".repeat(g.pick([0, 100, 10_000])),
    () => `{"name":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}`,
    () => JSON.stringify(g.pick(WRONG_VALUES)),
    () => `{"body":"${"a".repeat(g.pick([65_536, 65_537, 300_000]))}"}`,
    () => `\ufeff{"name":"bom"}`,
    () => `{"name": 1e999, "body": -0}`,
    () => `{"name":"x"`,
    () => g.text(200),
    () => "",
    () => "   ",
    () => `{"__proto__":{"polluted":true},"name":"p"}`,
  ];
  return g.pick(shapes)();
}

function bodyFor(g: Gen): { contentType: string | null; body: Buffer } {
  const contentType = g.pick(["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", "application/xml", "", null, "application/json;;;", "é"]);
  const kind = g.int(10);
  if (kind === 0) return { contentType, body: g.bytes(g.int(2000)) }; // binary garbage, often bad UTF-8
  if (kind === 1) return { contentType, body: Buffer.concat([Buffer.from('{"body":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]), Buffer.from('"}')]) };
  if (kind === 2) return { contentType, body: Buffer.from(g.pick(["name=", "name=%zz", "body=a&body=b", "name[]=x", "=x", "&&", `name=${"x".repeat(300)}`, "body=%ED%A0%80", "name=%00"])) };
  if (kind === 3 && g.chance(0.15)) return { contentType, body: Buffer.alloc(1024 * 1024 + 1 + g.int(1024 * 1024), 0x61) }; // over 1 MiB
  return { contentType, body: Buffer.from(jsonBody(g)) };
}

function restInput(g: Gen, token: string, family: string): RestInput {
  const realToken = g.chance(0.5) ? token : tokenShape(g, token);
  let method = g.pick(["GET", "POST", "PUT", "PATCH"]);
  let target = pathFor(g, family === "tokens" ? tokenShape(g, token) : realToken);
  const headers = ["Host: fuzz", "Connection: close"];
  let payload: { contentType: string | null; body: Buffer } = { contentType: null, body: Buffer.alloc(0) };
  switch (family) {
    case "methods":
      method = g.pick(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "CONNECT", "PROPFIND", "get", "Post", "BREW", "M-SEARCH"]);
      if (g.chance(0.5)) payload = bodyFor(g);
      break;
    case "paths":
      target = g.pick([
        () => `/${g.text(60, "abc/.%~-_é")}`,
        () => `/api/v1/${g.text(30, "a/.%")}`,
        () => `${pathFor(g, realToken)}${g.pick(["/", "//", "/.", "/..", "/%2e%2e/", "?", "#frag", ";x", "/extra/segments/here"])}`,
        () => `//api//v1//applications`,
        () => `/api/v1/applications/${"a/".repeat(g.int(200))}`,
        () => `/${"x".repeat(g.pick([100, 2000, 3500]))}`,
        () => `/api/v1/applications\\${realToken}`,
        () => "/ws",
        () => g.pick(["/healthz/", "/readyz?x=1", "/api/v1/openapi.json/..", "/HEALTHZ", "/api/V1/applications"]),
      ])();
      break;
    case "numbers":
      target = `/api/v1/applications/${token}/chats/${numberShape(g)}${g.chance(0.6) ? `/messages/${numberShape(g)}` : g.chance(0.5) ? "/messages" : ""}`;
      if (g.chance(0.3)) {
        method = g.pick(["POST", "PUT", "PATCH"]);
        payload = { contentType: "application/json", body: Buffer.from(JSON.stringify({ body: "n", name: "n" })) };
      }
      break;
    case "queries":
      method = "GET";
      target = `${g.pick([`/api/v1/applications/${token}/chats`, `/api/v1/applications/${token}/chats/1/messages`, `/api/v1/applications/${token}/chats/1/messages/search`, "/api/v1/applications"])}${queryShape(g)}`;
      break;
    case "headers": {
      const extra = [
        () => `Authorization: ${g.pick(["", "Bearer", "Bearer ", "Bearer x", `Bearer ${"k".repeat(3000)}`, "Basic Zm9vOmJhcg==", "bearer test-admin-key", "\u00e9", ...MALFORMED_JWTS.map((t) => `Bearer ${t}`)])}`,
        () => `Content-Type: ${g.pick(["", "application/json", "text/html", "application/json; charset=latin1", "x".repeat(2000)])}`,
        () => `Accept: ${g.pick(["*/*", "text/html", "", "application/msgpack"])}`,
        () => `X-${g.text(10, "abcdefXYZ0123-")}a: ${g.text(200, "abc xyz:;,=é💬\t")}`,
        () => `Expect: ${g.pick(["100-continue", "200-ok", ""])}`,
        () => `Cookie: ${"c=1; ".repeat(g.int(300))}`,
        () => g.pick(["Host: second", "Content-Length: 0", `Content-Length: ${g.int(50)}`, "Transfer-Encoding: chunked", "Upgrade: websocket", "Connection: keep-alive, Upgrade", "Origin: null"]),
      ];
      for (let i = g.int(8); i > 0; i--) headers.push(g.pick(extra)());
      if (g.chance(0.5)) {
        method = g.pick(["POST", "PATCH"]);
        payload = bodyFor(g);
      }
      break;
    }
    case "bodies":
      // Only routes that take a body, so the body (not the method) decides the answer.
      [method, target] = g.pick([
        ["POST", "/api/v1/applications"],
        [g.pick(["PUT", "PATCH"]), `/api/v1/applications/${token}`],
        ["POST", `/api/v1/applications/${token}/chats`],
        [g.pick(["PUT", "PATCH"]), `/api/v1/applications/${token}/chats/1`],
        ["POST", `/api/v1/applications/${token}/chats/1/messages`],
        [g.pick(["PUT", "PATCH"]), `/api/v1/applications/${token}/chats/1/messages/1`],
        ["PUT", `/api/v1/applications/${token}/chats/1/read`],
        ["POST", `/api/v1/applications/${token}/secret`],
      ] as const);
      payload = bodyFor(g);
      break;
    default: // tokens
      if (g.chance(0.4)) {
        method = g.pick(["POST", "PATCH"]);
        payload = bodyFor(g);
      }
  }
  return { family, method, target, ...framed(g, headers, payload) };
}

/** Adds Content-Type and framing (Content-Length, or well-formed chunks) unless the family set its own. */
function framed(g: Gen, headers: string[], payload: { contentType: string | null; body: Buffer }): { headers: string[]; body: Buffer } {
  const out = [...headers];
  if (payload.contentType !== null && !out.some((h) => h.toLowerCase().startsWith("content-type:"))) out.push(`Content-Type: ${payload.contentType}`);
  const framing = out.filter((h) => /^(content-length|transfer-encoding):/i.test(h));
  if (framing.length > 0) {
    // The family chose the framing; send a body that fits it, so the server never waits for bytes that will not come.
    const chunked = framing.some((h) => /^transfer-encoding:/i.test(h));
    if (chunked && !framing.some((h) => /^content-length:/i.test(h))) return { headers: out, body: chunk(payload.body) };
    const length = /^content-length: *(\d+)/i.exec(framing.find((h) => /^content-length:/i.test(h)) ?? "");
    return { headers: out, body: length ? Buffer.alloc(Number(length[1]), 0x7b) : Buffer.alloc(0) };
  }
  if (payload.body.length > 0 && g.chance(0.1)) return { headers: [...out, "Transfer-Encoding: chunked"], body: chunk(payload.body) };
  if (payload.body.length > 0) out.push(`Content-Length: ${payload.body.length}`);
  return { headers: out, body: payload.body };
}

function chunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += 4096) {
    const piece = body.subarray(i, i + 4096);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n"));
  }
  parts.push(Buffer.from("0\r\n\r\n"));
  return Buffer.concat(parts);
}

function encode(input: RestInput): Buffer {
  // latin1 for the head would mangle the UTF-8 a target may carry: write it as UTF-8 bytes.
  return Buffer.concat([Buffer.from(`${input.method} ${input.target} HTTP/1.1\r\n${input.headers.map((h) => `${h}\r\n`).join("")}\r\n`, "utf8"), input.body]);
}

async function fuzzRest(port: number, token: string, report: Report): Promise<void> {
  const g = new Gen(mulberry32(SEED));
  const families = ["methods", "paths", "tokens", "numbers", "queries", "headers", "bodies"];
  const inputs = Array.from({ length: REST_INPUTS }, (_, i) => restInput(g, token, families[i % families.length]!));
  let next = 0;
  await Promise.all(
    Array.from({ length: REST_CONCURRENCY }, async () => {
      while (next < inputs.length) {
        const input = inputs[next++]!;
        const res = await rawRequest(port, encode(input), DEADLINE_MS, input.method === "HEAD");
        const headerText = res.received.slice(0, Math.max(0, res.received.indexOf("\r\n\r\n")));
        report.record(
          `rest ${input.family}`,
          res.status !== null ? String(res.status) : res.ended,
          { fiveXX: res.status !== null && res.status >= 500, hang: res.ended === "open", leak: leaks(res.body) || STACK.test(headerText) },
          () => `${input.method} ${input.target.slice(0, 120)} [${input.headers.slice(2).join(", ").slice(0, 100)}] body ${input.body.length}B → ${res.status ?? res.ended} ${res.body.slice(0, 120)}`,
        );
      }
    }),
  );
}

// --- WebSocket inputs

type WsInput = { family: string; protocol: "chat.v1.json" | "chat.v1.msgpack"; data: Buffer | string; binary: boolean };

function wsInput(g: Gen, token: string, family: string): WsInput {
  const protocol = g.chance(0.5) ? "chat.v1.json" : "chat.v1.msgpack";
  const ops = ["subscribe", "unsubscribe", "send", "ping", "auth", "read", "presence", "typing"];
  const wrong = (): unknown => g.pick([...WRONG_VALUES, g.text(50), -0, 2 ** 53, [[[[]]]], { op: "ping" }]);
  const encodeFrame = (frame: unknown): Pick<WsInput, "data" | "binary"> =>
    protocol === "chat.v1.json" ? { data: JSON.stringify(frame) ?? "null", binary: false } : { data: pack(frame), binary: true };
  if (family === "ws fields") {
    const frame: Record<string, unknown> = { op: g.pick(ops) };
    for (const field of ["ref", "app", "chat", "since", "body", "key", "number", "token"]) {
      if (g.chance(0.5)) frame[field] = field === "app" && g.chance(0.3) ? tokenShape(g, token) : g.chance(0.2) ? g.pick([token, 1, "r", "hi"]) : wrong();
    }
    if (g.chance(0.2)) frame[g.pick(["extra", "key", "__proto__", "op ", "OP"])] = wrong();
    if (g.chance(0.1)) delete frame.op;
    return { family, protocol, ...encodeFrame(frame) };
  }
  if (family === "ws ops") {
    const op = g.pick([g.text(12), "SUBSCRIBE", "Ping", "toString", "constructor", "__proto__", "hasOwnProperty", "valueOf", "message", "ack", "error", "pong", "", " ping"]);
    return { family, protocol, ...encodeFrame(g.chance(0.8) ? { op, ref: g.int(1000), app: token } : { op: wrong() }) };
  }
  // ws encoding: frames of the wrong kind, garbage, bad UTF-8, oversize
  const kind = g.int(8);
  if (kind === 0) return { family, protocol, data: pack({ op: "ping", ref: 1 }), binary: protocol === "chat.v1.msgpack" ? false : true }; // mismatch
  if (kind === 1) return { family, protocol, data: g.bytes(g.int(300) + 1), binary: true };
  if (kind === 2) return { family, protocol, data: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), binary: false }; // not UTF-8
  if (kind === 3) return { family, protocol, data: g.text(200), binary: false };
  if (kind === 4) return { family, protocol, data: Buffer.alloc(0), binary: g.chance(0.5) };
  if (kind === 5 && g.chance(0.1)) return { family, protocol, data: Buffer.alloc(128 * 1024 + 1 + g.int(64 * 1024), 0x20), binary: g.chance(0.5) }; // over WS_MAX_PAYLOAD_BYTES
  if (kind === 6) return { family, protocol, data: Buffer.concat([Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]), g.bytes(20)]), binary: true }; // msgpack map claiming 4G entries
  return { family, protocol, data: "[".repeat(50_000), binary: false };
}

const REPLIES = new Set(["error", "ack", "subscribed", "unsubscribed", "pong", "authed", "presence", "read"]);

/** One socket of one protocol; `exchange` sends a frame and waits for its reply or the close. */
class FuzzSocket {
  private frames: Record<string, unknown>[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly socket: WebSocket) {
    socket.binaryType = "nodebuffer";
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      try {
        this.frames.push(isBinary ? (unpack(data) as Record<string, unknown>) : (JSON.parse(data.toString("utf8")) as Record<string, unknown>));
      } catch {
        this.frames.push({ op: "unreadable", raw: data.toString("latin1") });
      }
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => undefined);
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  static async open(url: string, protocol: string): Promise<FuzzSocket> {
    const socket = new WebSocket(url, [protocol]);
    const s = new FuzzSocket(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return s;
  }
  /** The reply frame, "closed", or "hang" at the deadline; frames that are not replies (live messages) are collected too. */
  async exchange(input: WsInput): Promise<{ reply: Record<string, unknown> | "closed" | "hang"; seen: Record<string, unknown>[] }> {
    const seen: Record<string, unknown>[] = [];
    this.socket.send(input.data, { binary: input.binary });
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      while (this.frames.length > 0) {
        const frame = this.frames.shift()!;
        seen.push(frame);
        if (REPLIES.has(String(frame.op))) return { reply: frame, seen };
      }
      if (this.closed) return { reply: "closed", seen };
      const left = deadline - Date.now();
      if (left <= 0) return { reply: "hang", seen };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }
  close(): void {
    this.socket.close();
  }
}

async function fuzzWs(port: number, token: string, report: Report): Promise<void> {
  const g = new Gen(mulberry32(SEED ^ 0x77));
  const families = ["ws fields", "ws ops", "ws encoding"];
  const inputs = Array.from({ length: WS_INPUTS }, (_, i) => wsInput(g, token, families[i % families.length]!));
  const url = `ws://127.0.0.1:${port}/ws`;
  let next = 0;
  await Promise.all(
    Array.from({ length: WS_SOCKETS }, async () => {
      const sockets = new Map<string, FuzzSocket>();
      while (next < inputs.length) {
        const input = inputs[next++]!;
        let socket = sockets.get(input.protocol);
        if (!socket || socket.closed) sockets.set(input.protocol, (socket = await FuzzSocket.open(url, input.protocol)));
        const { reply, seen } = await socket.exchange(input);
        report.record(
          input.family,
          typeof reply === "object" ? String(reply.code ?? reply.op) : reply,
          {
            fiveXX: typeof reply === "object" && reply.code === "unavailable",
            hang: reply === "hang",
            leak: seen.some((f) => leaks(JSON.stringify(f))),
          },
          () => `${input.protocol} ${input.binary ? "binary" : "text"} ${String(typeof input.data === "string" ? input.data : input.data.toString("latin1")).slice(0, 120)} → ${JSON.stringify(reply).slice(0, 150)}`,
        );
      }
      for (const s of sockets.values()) s.close();
    }),
  );
}

// --- the two servers

interface Target {
  proc: Proc;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

const embeddedEnv = { HOST: "127.0.0.1", PORT: "0", MYSQL_URL: "", REDIS_URL: "", AMQP_URL: "", ELASTICSEARCH_URL: "" };

for (const mode of ["embedded", "cluster"] as const) {
  describe(`fuzz (${mode}, a real process)`, () => {
    let target: Target;
    let api: Api;
    let precious: { token: string; snapshot: unknown };
    let fuzzToken: string;

    before(async () => {
      if (mode === "embedded") {
        target = { proc: await spawnCli("serve", embeddedEnv), env: embeddedEnv, cleanup: async () => undefined };
      } else {
        const env = isolatedEnv("fuzz", { PUBLISH_TIMEOUT_MS: "5000", ADMIN_KEY: "test-admin-key-0123456789" });
        const migrated = await runCli(["migrate"], env);
        assert.equal(migrated.code, 0, migrated.output);
        target = { proc: await spawnCli("all", env, /worker started/), env, cleanup: () => cleanupRun(env) };
      }
      api = new Api(`http://127.0.0.1:${target.proc.port}`);
      const token = (await api.post("/api/v1/applications", { name: "precious" })).json.token as string;
      for (const name of ["first", "second"]) assert.equal((await api.postReady(`/api/v1/applications/${token}/chats`, { name })).status, 201);
      for (const body of ["one", "two", "three"]) assert.equal((await api.post(`/api/v1/applications/${token}/chats/1/messages`, { body })).status, 201);
      precious = { token, snapshot: await eventually(() => settled(api, token), 60_000, "the precious data to settle") };
      fuzzToken = (await api.post("/api/v1/applications", { name: "fuzzed" })).json.token as string;
      assert.equal((await api.postReady(`/api/v1/applications/${fuzzToken}/chats`, { name: "target" })).status, 201);
    });
    after(async () => {
      await target?.proc.stop("SIGKILL");
      await target?.cleanup();
    });

    it(`answers ${REST_INPUTS} REST and ${WS_INPUTS} WebSocket inputs with no 5xx, hang or leak, and loses nothing`, async () => {
      const report = new Report();
      await Promise.all([fuzzRest(target.proc.port!, fuzzToken, report), fuzzWs(target.proc.port!, fuzzToken, report)]);
      report.print(mode);
      assert.equal(report.total(), REST_INPUTS + WS_INPUTS);
      assert.deepEqual(report.failures(), []);

      assert.equal((await api.get("/healthz")).status, 200);
      assert.equal((await api.get("/readyz")).status, 200);
      assert.deepEqual(await settled(api, precious.token), precious.snapshot, "data made before the fuzzing is intact");
      assert.equal(target.proc.child.exitCode, null, "still running");
    });
  });
}

/** The precious application's full state once the worker caught up (counts match), else undefined. */
async function settled(api: Api, token: string): Promise<unknown> {
  const base = `/api/v1/applications/${token}`;
  const app = (await api.get(base)).json;
  const chats = (await api.get(`${base}/chats`)).json.data;
  const messages = (await api.get(`${base}/chats/1/messages?after=0`)).json.data;
  if (app.chats_count !== 2 || chats[0]?.messages_count !== 3) return undefined;
  return { app, chats, messages };
}
