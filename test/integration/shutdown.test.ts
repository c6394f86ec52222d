import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import mysql from "mysql2/promise";
import WebSocket from "ws";
import { cleanupRun } from "../support/cleanup.js";
import { eventually, isolatedEnv } from "../support/env.js";
import { Api } from "../support/http.js";
import { spawnCli, spawnCluster, type Proc } from "../support/processes.js";

// SIGTERM under load (cluster mode, real processes): the API stops accepting,
// answers every request it had taken (201 or 503), closes WebSockets with
// 1001 and exits 0. Every 201 is in MySQL, and MySQL holds no message whose
// create went unanswered (that would be a request cut mid-flight).

const LOOPS = 6;

type Outcome = { status: number; number?: number; startedBeforeSignal: boolean } | { error: string; startedBeforeSignal: boolean };

/** Sends the head and half of a message create's body; `finish` sends the rest and resolves with the raw response. */
async function halfSentCreate(port: number, path: string): Promise<{ finish: () => Promise<string> }> {
  const body = JSON.stringify({ body: "sent across the SIGTERM" });
  const socket = net.connect(port, "127.0.0.1");
  await once(socket, "connect");
  let received = "";
  socket.on("data", (d: Buffer) => (received += d.toString()));
  const closed = new Promise((resolve) => socket.once("close", resolve));
  socket.on("error", () => undefined); // a reset shows as an incomplete response
  // uWS answers 100 Continue in the same turn as it runs the handler, so once it
  // is here the request is in flight: a signal sent now cannot overtake it.
  socket.write(`POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
  const interim = "HTTP/1.1 100 Continue\r\n\r\n";
  await eventually(() => received.startsWith(interim), 30_000, "the server to take the request");
  return {
    async finish() {
      socket.write(body.slice(10));
      await Promise.race([closed, eventually(() => /\r\n\r\n\{.*\}$/s.test(received), 30_000, "the response")]);
      socket.destroy();
      return received.slice(interim.length);
    },
  };
}

describe("graceful shutdown on SIGTERM", () => {
  const env = isolatedEnv("stop", { PUBLISH_TIMEOUT_MS: "5000", SHUTDOWN_TIMEOUT_MS: "10000" });
  let api: Proc;
  let worker: Proc;
  let db: mysql.Connection;

  before(async () => {
    const cluster = await spawnCluster(env, 1);
    api = cluster.servers[0]!;
    worker = cluster.worker;
    db = await mysql.createConnection(env.MYSQL_URL!);
  });
  after(async () => {
    await Promise.all([api?.stop("SIGKILL"), worker?.stop("SIGKILL")]);
    await db?.end();
    await cleanupRun(env);
  });

  it("answers every request it took, loses no 201, closes WebSockets with 1001 and exits 0", async () => {
    const port = api.port!;
    const client = new Api(`http://127.0.0.1:${port}`);
    const token = (await client.post("/api/v1/applications", { name: "shutdown" })).json.token as string;
    const chatPath = `/api/v1/applications/${token}/chats/1/messages`;
    assert.equal((await client.postReady(`/api/v1/applications/${token}/chats`, {})).status, 201);

    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const wsClosed = new Promise<number>((resolve) => socket.once("close", (code: number) => resolve(code)));
    await once(socket, "open");

    let signalled = false;
    const exited = once(api.child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    let gone = false;
    void exited.then(() => (gone = true));
    const outcomes: Outcome[] = [];
    const loops = Array.from({ length: LOOPS }, async (_, loop) => {
      for (let i = 0; !gone; i++) {
        const startedBeforeSignal = !signalled;
        try {
          const res = await fetch(`http://127.0.0.1:${port}${chatPath}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ body: `loop ${loop} #${i}` }) });
          const json = (await res.json()) as { number?: number };
          outcomes.push({ status: res.status, number: json.number, startedBeforeSignal });
        } catch (err) {
          outcomes.push({ error: String((err as { cause?: unknown }).cause ?? err), startedBeforeSignal });
        }
      }
    });

    await eventually(() => outcomes.filter((o) => "status" in o && o.status === 201).length >= 200, 60_000, "a steady stream of creates");
    const inFlight = await halfSentCreate(port, chatPath);
    signalled = true;
    api.child.kill("SIGTERM");
    await eventually(() => api.output().includes("shutting down"), 30_000, "the shutdown to begin");
    const slow = await inFlight.finish();
    const [code] = await exited;
    await Promise.all(loops);

    assert.equal(code, 0, api.output().slice(-2000));
    assert.equal(await wsClosed, 1001);
    assert.match(slow, /^HTTP\/1\.1 (201|503) /, `the request in flight across the signal is answered: ${slow}`);
    const slowNumber = /^HTTP\/1\.1 201 /.test(slow) ? (JSON.parse(slow.slice(slow.indexOf("\r\n\r\n") + 4)) as { number: number }).number : null;

    const cut = outcomes.filter((o) => "error" in o && o.startedBeforeSignal);
    assert.deepEqual(cut, [], "no request sent before the signal lost its answer");
    const statuses = new Set(outcomes.flatMap((o) => ("status" in o ? [o.status] : [])));
    assert.deepEqual([...statuses].filter((s) => s !== 201 && s !== 503), [], "only 201 or 503");

    const acknowledged = outcomes.flatMap((o) => ("status" in o && o.status === 201 ? [o.number!] : []));
    if (slowNumber !== null) acknowledged.push(slowNumber);
    const stored = async (): Promise<number[]> => {
      const [rows] = await db.query<mysql.RowDataPacket[]>(
        "SELECT m.number FROM messages m JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id WHERE a.token = ? AND c.number = 1 ORDER BY m.number",
        [token],
      );
      return rows.map((r) => Number(r.number));
    };
    await eventually(async () => (await stored()).length >= acknowledged.length, 60_000, "the worker to persist every acknowledged create");
    assert.deepEqual(await stored(), [...acknowledged].sort((a, b) => a - b), "MySQL holds exactly the acknowledged creates");
    console.log(`shutdown under load: ${acknowledged.length} acknowledged, ${outcomes.filter((o) => "status" in o && o.status === 503).length} answered 503, ${outcomes.filter((o) => "error" in o).length} refused after the signal`);
  });

  it("exits by SHUTDOWN_TIMEOUT_MS even when a request never completes", async () => {
    const proc = await spawnCli("serve", { HOST: "127.0.0.1", PORT: "0", MYSQL_URL: "", REDIS_URL: "", AMQP_URL: "", ELASTICSEARCH_URL: "", SHUTDOWN_TIMEOUT_MS: "500" });
    const created = await new Api(`http://127.0.0.1:${proc.port}`).post("/api/v1/applications", { name: "stuck" });
    await halfSentCreate(proc.port!, `/api/v1/applications/${created.json.token}/chats/1/messages`); // never finished
    const exited = once(proc.child, "exit") as Promise<[number | null]>;
    proc.child.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 1, proc.output().slice(-1000));
    assert.match(proc.output(), /SHUTDOWN_TIMEOUT_MS/);
  });
});
