// WebSocket realtime load: N subscribers spread over API processes, sends at
// an open-loop rate R for D seconds, reporting delivered messages/s and
// end-to-end latency (the send time rides in the body; one clock: this
// process's performance.now()). Checks every delivery too: missing,
// duplicate, and out of order per sending process.
//
//   npx tsx bench/ws-load.ts --help
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { pack, unpack } from "msgpackr";
import WebSocket from "ws";
import { cleanupRun } from "../test/support/cleanup.js";
import { isolatedEnv } from "../test/support/env.js";
import { runCli, spawnCli, type Proc } from "../test/support/processes.js";
import { Samples } from "./lib/stats.js";

const USAGE = `usage: npx tsx bench/ws-load.ts [options]

Servers (one of):
  --url ws://host:port/ws[,...]  existing API processes (their WS_SENDS_PER_SECOND
                                 must allow rate/senders per socket)
  --mode cluster|embedded        spawn servers (default: cluster)
  --processes K                  cluster: K serve processes + 1 worker on the
                                 loopback MariaDB, Redis, RabbitMQ, Elasticsearch,
                                 isolated names, cleaned up after (default 3);
                                 embedded: always 1

Load:
  --subscribers N   subscriber sockets, round-robin over the servers (default 100)
  --chats C         chats; subscriber i follows chat 1 + i % C, sends go
                    round-robin over the chats (default 1)
  --rate R          messages per second in total, open loop (default 1000)
  --duration D      seconds of sending (default 10)
  --senders S       sending sockets, round-robin over the servers
                    (default ceil(R / 150), under the default per-socket limit)
  --protocol P      json | msgpack for the subscribers (default json)
  --body-bytes B    pad each body to B bytes (default 100)
  --app=TOKEN       existing application (its chats 1..C must exist); else one is
                    created. Write it with "=": a token can begin with "-"
  --json            print the result as JSON
  --help            this text

Reports: sends acked/s and ack latency; frames delivered/s (over the window
from the first send to the last delivery) and end-to-end latency p50/p95/p99/max;
missing, duplicate and out-of-order deliveries.`;

const { values: flags } = parseArgs({
  options: {
    url: { type: "string" },
    mode: { type: "string", default: "cluster" },
    processes: { type: "string" },
    subscribers: { type: "string", default: "100" },
    chats: { type: "string", default: "1" },
    rate: { type: "string", default: "1000" },
    duration: { type: "string", default: "10" },
    senders: { type: "string" },
    protocol: { type: "string", default: "json" },
    "body-bytes": { type: "string", default: "100" },
    app: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function positive(name: string, raw: string | undefined, fallback?: number): number {
  if (raw === undefined && fallback !== undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`--${name} must be a positive number, got ${raw}\n${USAGE}\n`);
    process.exit(2);
  }
  return v;
}

const rate = positive("rate", flags.rate);
const cfg = {
  subscribers: Math.floor(positive("subscribers", flags.subscribers)),
  chats: Math.floor(positive("chats", flags.chats)),
  rate,
  durationS: positive("duration", flags.duration),
  senders: Math.floor(positive("senders", flags.senders, Math.max(1, Math.ceil(rate / 150)))),
  bodyBytes: Math.floor(positive("body-bytes", flags["body-bytes"])),
  protocol: flags.protocol === "msgpack" ? ("chat.v1.msgpack" as const) : ("chat.v1.json" as const),
};
if (flags.protocol !== "json" && flags.protocol !== "msgpack") {
  process.stderr.write(`--protocol must be json or msgpack\n`);
  process.exit(2);
}
const log = (line: string): void => void process.stderr.write(`[ws-load] ${line}\n`);

// --- servers

interface Servers {
  wsUrls: string[];
  origin: string;
  stop(): Promise<void>;
}

async function startServers(): Promise<Servers> {
  if (flags.url) {
    const wsUrls = flags.url.split(",").map((u) => u.trim());
    return { wsUrls, origin: wsUrls[0]!.replace(/^ws/, "http").replace(/\/ws$/, ""), stop: async () => undefined };
  }
  const common = { WS_SENDS_PER_SECOND: "1000000", LOG_LEVEL: "info", HOST: "127.0.0.1", PORT: "0" };
  if (flags.mode === "embedded") {
    const proc = await spawnCli("serve", { ...common, MYSQL_URL: "", REDIS_URL: "", AMQP_URL: "", ELASTICSEARCH_URL: "" }, /API listening/);
    return { wsUrls: [`ws://127.0.0.1:${proc.port}/ws`], origin: `http://127.0.0.1:${proc.port}`, stop: () => proc.stop() };
  }
  if (flags.mode !== "cluster") throw new Error(`--mode must be cluster or embedded, got ${flags.mode}`);
  const k = Math.floor(positive("processes", flags.processes, 3));
  const env = isolatedEnv(`wsload_${randomBytes(2).toString("hex")}`, common);
  const procs: Proc[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop()));
    await cleanupRun(env).catch((err: unknown) => log(`cleanup failed: ${String(err)}`));
  };
  try {
    const migrated = await runCli(["migrate"], env);
    if (migrated.code !== 0) throw new Error(`migrate failed (are the loopback services up? scripts/services.sh up):\n${migrated.output}`);
    procs.push(await spawnCli("worker", env, /worker started/));
    const apis = await Promise.all(Array.from({ length: k }, () => spawnCli("serve", env, /API listening/)));
    procs.push(...apis);
    return { wsUrls: apis.map((p) => `ws://127.0.0.1:${p.port}/ws`), origin: `http://127.0.0.1:${apis[0]!.port}`, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// --- protocol helpers

type Frame = Record<string, any> & { op: string };

function open(url: string, protocol: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [protocol], { perMessageDeflate: false });
    ws.binaryType = "nodebuffer";
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

const decode = (data: Buffer, isBinary: boolean): Frame => (isBinary ? (unpack(data) as Frame) : (JSON.parse(data.toString("utf8")) as Frame));
const encode = (ws: WebSocket, frame: object): void => (ws.protocol === "chat.v1.msgpack" ? ws.send(pack(frame)) : ws.send(JSON.stringify(frame)));

async function http(origin: string, method: string, path: string, body?: unknown): Promise<any> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(origin + path, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 503 && attempt < 100) {
      await new Promise((r) => setTimeout(r, 100)); // the sequencer's first-start fence
      continue;
    }
    const json = await res.json();
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
    return json;
  }
}

// --- the run

async function run(servers: Servers): Promise<Record<string, unknown>> {
  let app = flags.app;
  if (!app) {
    app = (await http(servers.origin, "POST", "/api/v1/applications", { name: "ws-load" })).token as string;
    for (let c = 0; c < cfg.chats; c++) await http(servers.origin, "POST", `/api/v1/applications/${app}/chats`, {});
  }

  // Subscribers.
  const e2e = new Samples();
  const subscribersPerChat = new Map<number, number>();
  let delivered = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let lastDeliveryAt = 0;
  const closes: Record<string, number> = {};
  const seen: Set<number>[] = [];
  const subs: WebSocket[] = [];
  for (let i = 0; i < cfg.subscribers; i++) {
    const url = servers.wsUrls[i % servers.wsUrls.length]!;
    const chat = 1 + (i % cfg.chats);
    const ws = await open(url, cfg.protocol);
    const mine = new Set<number>();
    seen.push(mine);
    const lastFrom = new Map<number, number>(); // sending socket → last number seen from it
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      const now = performance.now();
      const f = decode(data, isBinary);
      if (f.op !== "message" || typeof f.body !== "string" || !f.body.startsWith("wsl:")) return;
      const [, sender, , sentAt] = f.body.split(":", 4);
      e2e.add(now - Number(sentAt));
      delivered++;
      lastDeliveryAt = now;
      if (mine.has(f.number)) duplicates++;
      mine.add(f.number);
      const s = Number(sender);
      if (f.number < (lastFrom.get(s) ?? 0)) outOfOrder++;
      lastFrom.set(s, f.number);
    });
    ws.on("close", (code: number) => (closes[code] = (closes[code] ?? 0) + 1));
    const ready = new Promise<Frame>((resolve) => {
      const onFrame = (data: Buffer, isBinary: boolean): void => {
        const f = decode(data, isBinary);
        if (f.ref === "sub") {
          ws.off("message", onFrame);
          resolve(f);
        }
      };
      ws.on("message", onFrame);
    });
    encode(ws, { op: "subscribe", ref: "sub", app, chat });
    const reply = await ready;
    if (reply.op !== "subscribed") throw new Error(`subscribe refused: ${JSON.stringify(reply)}`);
    subs.push(ws);
    subscribersPerChat.set(chat, (subscribersPerChat.get(chat) ?? 0) + 1);
  }
  log(`${subs.length} subscribers on ${servers.wsUrls.length} process(es), ${cfg.chats} chat(s)`);

  // Senders: JSON sockets; a send is due every 1/rate s whether or not earlier ones were acked.
  const senders: WebSocket[] = [];
  for (let i = 0; i < cfg.senders; i++) senders.push(await open(servers.wsUrls[i % servers.wsUrls.length]!, "chat.v1.json"));
  const ackLatency = new Samples();
  const pending = new Map<string, { at: number; chat: number }>();
  const acked: { chat: number; number: number }[] = [];
  const errors: Record<string, number> = {};
  senders.forEach((ws) =>
    ws.on("message", (data: Buffer) => {
      const f = JSON.parse(data.toString("utf8")) as Frame;
      const p = pending.get(f.ref);
      if (!p) return;
      pending.delete(f.ref);
      if (f.op === "ack") {
        ackLatency.add(performance.now() - p.at);
        acked.push({ chat: p.chat, number: f.number });
      } else errors[f.code] = (errors[f.code] ?? 0) + 1;
    }),
  );
  const pad = "x".repeat(Math.max(0, cfg.bodyBytes - 40));
  const total = Math.round(cfg.rate * cfg.durationS);
  let sent = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * cfg.rate));
      while (sent < due) {
        const s = sent % senders.length;
        const chat = 1 + (sent % cfg.chats);
        const ref = `s${sent}`;
        const at = performance.now();
        pending.set(ref, { at, chat });
        encode(senders[s]!, { op: "send", ref, app, chat, body: `wsl:${s}:${sent}:${at.toFixed(3)}:${pad}` });
        sent++;
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 2);
  });
  const sendWindowS = (performance.now() - start) / 1000;

  // Drain: every send answered, then every acked message delivered (or no progress for 3 s).
  const waitFor = async (cond: () => boolean, idleMs: number, progress: () => number): Promise<void> => {
    let last = progress();
    let lastChange = performance.now();
    while (!cond()) {
      await new Promise((r) => setTimeout(r, 20));
      const now = progress();
      if (now !== last) {
        last = now;
        lastChange = performance.now();
      } else if (performance.now() - lastChange > idleMs) return;
    }
  };
  await waitFor(() => pending.size === 0, 10_000, () => pending.size);
  const expected = acked.reduce((n, a) => n + (subscribersPerChat.get(a.chat) ?? 0), 0);
  await waitFor(() => delivered >= expected, 3000, () => delivered);

  let missing = 0;
  subs.forEach((_, i) => {
    const chat = 1 + (i % cfg.chats);
    for (const a of acked) if (a.chat === chat && !seen[i]!.has(a.number)) missing++;
  });
  const windowS = ((lastDeliveryAt || performance.now()) - start) / 1000;
  for (const ws of [...subs, ...senders]) ws.terminate();

  const [p50, p95, p99, max] = e2e.percentiles([50, 95, 99, 100]);
  const [a50, a95, a99] = ackLatency.percentiles([50, 95, 99]);
  const r3 = (v: number | null | undefined): number | null => (v == null ? null : Math.round(v * 1000) / 1000);
  return {
    config: { ...cfg, processes: servers.wsUrls.length },
    sends: { sent, acked: acked.length, errors, unanswered: pending.size, ackedPerSec: Math.round(acked.length / sendWindowS) },
    ackLatencyMs: { p50: r3(a50), p95: r3(a95), p99: r3(a99) },
    deliveries: { expected, delivered, missing, duplicates, outOfOrder, deliveredPerSec: Math.round(delivered / windowS), windowS: Math.round(windowS * 100) / 100 },
    e2eLatencyMs: { p50: r3(p50), p95: r3(p95), p99: r3(p99), max: r3(max) },
    subscriberCloses: closes,
  };
}

const servers = await startServers();
try {
  const result = await run(servers);
  if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const r = result as any;
    process.stdout.write(
      [
        `ws-load: ${r.config.subscribers} subscribers on ${r.config.processes} process(es), ${r.config.chats} chat(s), ${r.config.rate}/s for ${r.config.durationS}s, ${r.config.senders} senders, ${r.config.protocol}, ${r.config.bodyBytes} B bodies`,
        `sends      ${r.sends.acked}/${r.sends.sent} acked (${r.sends.ackedPerSec}/s), errors ${JSON.stringify(r.sends.errors)}, unanswered ${r.sends.unanswered}`,
        `ack        p50 ${r.ackLatencyMs.p50} ms  p95 ${r.ackLatencyMs.p95} ms  p99 ${r.ackLatencyMs.p99} ms`,
        `delivered  ${r.deliveries.delivered}/${r.deliveries.expected} (${r.deliveries.deliveredPerSec}/s over ${r.deliveries.windowS}s), missing ${r.deliveries.missing}, duplicates ${r.deliveries.duplicates}, out of order ${r.deliveries.outOfOrder}`,
        `end to end p50 ${r.e2eLatencyMs.p50} ms  p95 ${r.e2eLatencyMs.p95} ms  p99 ${r.e2eLatencyMs.p99} ms  max ${r.e2eLatencyMs.max} ms`,
        "",
      ].join("\n"),
    );
  }
} finally {
  await servers.stop();
}
