import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { spawnCli, type Proc } from "../support/processes.js";
import { rawHttp, requestHead } from "../support/raw-http.js";

// The HTTP edge over raw TCP (node:net), where a client library would hide
// what the server really sent: malformed requests, HEAD, oversized bodies.
// Deadlines are liveness bounds. uWS closes an idle connection after its own
// timeout (10 s, checked every 4 s: 8–12 s), so a close seen within
// PROMPT_MS, well under that, is the server's answer, not the timeout.

const PROMPT_MS = 5000;
const MIB = 1024 * 1024;

describe("HTTP edge (raw TCP, an embedded `serve` process)", () => {
  let proc: Proc;
  let target: { port: number; base: string };
  let token: string;

  before(async () => {
    // A separate process, as `npm start` runs it: a server sharing the test's
    // event loop would pace the client and hide the reset races.
    proc = await spawnCli("serve", { PORT: "0", HOST: "127.0.0.1", MYSQL_URL: "", REDIS_URL: "", AMQP_URL: "", ELASTICSEARCH_URL: "" });
    target = { port: proc.port!, base: `http://127.0.0.1:${proc.port}` };
    const res = await fetch(`${target.base}/api/v1/applications`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":"edge"}' });
    token = ((await res.json()) as { token: string }).token;
  });
  after(async () => proc?.stop());

  const raw = (parts: string | Buffer | (string | Buffer)[], deadlineMs = PROMPT_MS) => rawHttp(target.port, parts, deadlineMs);

  it("answers 400 bad_request and closes for what HTTP/1.1 forbids but uWS passes on", async () => {
    const cases: [string, string][] = [
      ["backslash in the path", requestHead("GET", "/api\\v1\\applications")],
      ["backslash after the first slash", requestHead("GET", "/\\evil.example/")],
      ["empty Host", requestHead("GET", "/healthz", ["Host:"])],
      ["two Host headers", requestHead("GET", "/healthz", ["Host: a", "Host: b"])],
      ["two Content-Length headers", requestHead("POST", "/api/v1/applications", ["Host: a", "Content-Type: application/json", "Content-Length: 2", "Content-Length: 3"]) + "{}x"],
    ];
    for (const [name, request] of cases) {
      const res = await raw(request);
      assert.equal(res.status, 400, `${name}: ${JSON.stringify(res.received)}`);
      assert.equal(JSON.parse(res.body).error.code, "bad_request", name);
      assert.equal(res.headers.connection, "close", name);
      assert.notEqual(res.ended, "open", `${name}: the server closes the connection`);
    }
  });

  it("is closed by uWS at once, without a response, for requests its parser or router rejects", async () => {
    const cases: [string, string][] = [
      ["lower-case method", requestHead("get", "/healthz")],
      ["mixed-case method", requestHead("Get", "/healthz")],
      ["unknown method", requestHead("PROPFIND", "/healthz")],
      ["no Host (other headers present)", requestHead("GET", "/healthz", ["Accept: */*"])],
      ["Transfer-Encoding with Content-Length", requestHead("POST", "/api/v1/applications", ["Host: a", "Content-Length: 5", "Transfer-Encoding: chunked"]) + "0\r\n\r\n"],
      ["non-numeric Content-Length", requestHead("POST", "/api/v1/applications", ["Host: a", "Content-Length: abc"])],
      ["more than 4 KiB of an unparseable head", requestHead("GET", "http://test/healthz", ["Host: test", `X-Pad: ${"a".repeat(5000)}`])],
    ];
    for (const [name, request] of cases) {
      const res = await raw(request);
      assert.equal(res.received, "", `${name}: no response bytes`);
      assert.notEqual(res.ended, "open", `${name}: closed`);
    }
  });

  it("is held by uWS without a response until its idle timeout when its parser cannot read the head (documented in DESIGN.md)", async () => {
    // uWS 20.43's parser accepts only `METHOD /origin-form HTTP/1.1` with 1–48
    // header lines; anything else it keeps buffering as "incomplete" (up to
    // 4 KiB) and no handler ever runs, so nothing here can answer it.
    const held: [string, string][] = [
      ["absolute-form target", requestHead("GET", `http://test/api/v1/applications/${token}`)],
      ["asterisk-form target", requestHead("OPTIONS", "*")],
      ["target starting with a backslash", requestHead("GET", "\\healthz")],
      ["HTTP/1.0", requestHead("GET", "/healthz", [], "HTTP/1.0")],
      ["HTTP/1.0 with Host", requestHead("GET", "/healthz", ["Host: test"], "HTTP/1.0")],
      ["HTTP/1.1 with no header at all", requestHead("GET", "/healthz", [])],
      ["49 header lines", requestHead("GET", "/healthz", ["Host: test", ...Array.from({ length: 48 }, (_, i) => `X-H${i}: v`)])],
    ];
    const pending = held.map(async ([name, request]) => [name, await raw(request, 20_000)] as const);
    // Meanwhile everyone else is served.
    assert.equal((await fetch(`${target.base}/healthz`)).status, 200);
    for (const [name, res] of await Promise.all(pending)) {
      assert.equal(res.received, "", `${name}: no response bytes`);
      assert.notEqual(res.ended, "open", `${name}: closed by the idle timeout`);
    }
  });

  it("serves 48 header lines, the most uWS parses", async () => {
    const res = await raw(requestHead("GET", "/healthz", ["Host: test", "Connection: close", ...Array.from({ length: 46 }, (_, i) => `X-H${i}: v`)]));
    assert.equal(res.status, 200);
  });

  it("answers HEAD like GET without a body, and the connection stays usable", async () => {
    for (const path of ["/healthz", "/readyz", "/api/v1/openapi.json", `/api/v1/applications/${token}`, "/api/v1/nothing-here", `/api/v1/applications/${token}/chats`]) {
      const get = await fetch(`${target.base}${path}`);
      const getBody = await get.text();
      // Two requests in one write: the second response must follow the first's headers directly.
      const res = await raw(requestHead("HEAD", path) + requestHead("GET", "/healthz", ["Host: test", "Connection: close"]));
      assert.equal(res.status, get.status, path);
      assert.equal(Number(res.headers["content-length"]), Buffer.byteLength(getBody), `${path}: Content-Length of the GET body`);
      assert.match(res.body, /^HTTP\/1\.1 200 OK\r\n/, `${path}: no body before the next response: ${JSON.stringify(res.body.slice(0, 80))}`);
      assert.match(res.body, /\{"status":"ok"\}$/);
    }
    const viaFetch = await fetch(`${target.base}/api/v1/applications/${token}`, { method: "HEAD" });
    assert.equal(viaFetch.status, 200);
    assert.equal(await viaFetch.text(), "");
  });

  it("answers 413 to every one of 50 plain fetches of a 2 MiB body, 5 at a time (no reset while the client still sends)", async () => {
    const body = JSON.stringify({ name: "x", pad: "y".repeat(2 * MIB) });
    const outcomes: string[] = [];
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        for (let i = 0; i < 10; i++) {
          try {
            const res = await fetch(`${target.base}/api/v1/applications`, { method: "POST", headers: { "content-type": "application/json" }, body });
            const json = (await res.json()) as { error: { code: string } };
            outcomes.push(`${res.status} ${json.error.code} ${res.headers.get("connection")}`);
          } catch (err) {
            outcomes.push(`failed: ${String((err as { cause?: unknown }).cause ?? err)}`);
          }
        }
      }),
    );
    assert.deepEqual(outcomes, Array(50).fill("413 payload_too_large close"));
    assert.equal((await fetch(`${target.base}/api/v1/applications/${token}`)).status, 200);
  });

  it("answers 413 to 20 raw 2 MiB bodies sent with Connection: close (uWS closes right after such an answer)", async () => {
    const body = Buffer.alloc(2 * MIB, 0x61);
    const head = requestHead("POST", "/api/v1/applications", ["Host: test", "Connection: close", "Content-Type: application/json", `Content-Length: ${body.length}`]);
    const statuses = await Promise.all(Array.from({ length: 20 }, async () => (await raw([head, body], 30_000)).status));
    assert.deepEqual(statuses, Array(20).fill(413));
  });

  it("answers 413 to 20 chunked 2 MiB bodies after reading them, then closes", async () => {
    for (let i = 0; i < 20; i++) {
      const chunk = new TextEncoder().encode("y".repeat(64 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent === 0) controller.enqueue(new TextEncoder().encode('{"name":"x","pad":"'));
          if (sent >= 2 * MIB) {
            controller.enqueue(new TextEncoder().encode('"}'));
            controller.close();
            return;
          }
          sent += chunk.byteLength;
          controller.enqueue(chunk);
        },
      });
      const res = await fetch(`${target.base}/api/v1/applications`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: stream,
        duplex: "half",
      } as RequestInit);
      assert.equal(res.status, 413, `fetch ${i}`);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "payload_too_large");
    }
    assert.equal((await fetch(`${target.base}/api/v1/applications/${token}`)).status, 200);
  });
});
