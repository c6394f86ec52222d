// WebSocket realtime load: N subscribers spread over API processes, sends at
// an open-loop rate R for D seconds (or, with --window, as fast as the fanout
// delivers them), reporting delivered messages/s and end-to-end latency (the
// send time rides in the body; one clock: the machine's, as epoch ms, since
// the subscribers live in child processes, bench/lib/ws-subscribers.ts).
// Checks every delivery too: missing, duplicate, and out of order per sending
// socket.
//
//   npx tsx bench/ws-load.ts --help
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type WebSocket from "ws";
import { cleanupRun } from "../test/support/cleanup.js";
import { isolatedEnv } from "../test/support/env.js";
import { runCli, spawnCli, type Proc } from "../test/support/processes.js";
import { Samples } from "./lib/stats.js";
import { encode, epochMs, open, sendBody, type Frame } from "./lib/ws-frames.js";
import type { FinishOrder, FromSubscribers, SubscribeOrder, SubscribersResult } from "./lib/ws-subscribers.js";
import { WS_LOAD_MARKS } from "./lib/ws-load-runner.js";

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
  --window W        instead of a rate: keep W sends whose frames have not yet
                    reached every subscriber of their chat, and send the next
                    as one completes; the fanout then runs at its maximum
                    without a backlog piling up anywhere
  --duration D      seconds of sending (default 10)
  --senders S       sending sockets, round-robin over the servers
                    (default ceil(R / 150), under the default per-socket
                    limit; 1 with --window)
  --subscriber-procs K
                    processes holding the subscribers, subscriber i in process
                    i % K, so reading frames can use more than one core (default 1)
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
    window: { type: "string" },
    duration: { type: "string", default: "10" },
    senders: { type: "string" },
    "subscriber-procs": { type: "string" },
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
const window = flags.window === undefined ? null : Math.floor(positive("window", flags.window));
const cfg = {
  subscribers: Math.floor(positive("subscribers", flags.subscribers)),
  chats: Math.floor(positive("chats", flags.chats)),
  rate,
  window,
  durationS: positive("duration", flags.duration),
  senders: Math.floor(positive("senders", flags.senders, window ? 1 : Math.max(1, Math.ceil(rate / 150)))),
  subscriberProcs: Math.floor(positive("subscriber-procs", flags["subscriber-procs"], 1)),
  bodyBytes: Math.floor(positive("body-bytes", flags["body-bytes"])),
  protocol: flags.protocol === "msgpack" ? ("chat.v1.msgpack" as const) : ("chat.v1.json" as const),
};
if (window && cfg.subscribers < cfg.chats) {
  process.stderr.write(`--window needs a subscriber on every chat (--subscribers ≥ --chats)\n`);
  process.exit(2);
}
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

  // Subscribers, in their own processes: subscriber i in process i % K.
  const procCount = Math.min(cfg.subscriberProcs, cfg.subscribers);
  const subscriberProcs = await Promise.all(
    Array.from({ length: procCount }, (_, k) =>
      startSubscribers({
        type: "subscribe",
        urls: servers.wsUrls,
        protocol: cfg.protocol,
        app: app!,
        chats: cfg.chats,
        indices: Array.from({ length: cfg.subscribers }, (_, i) => i).filter((i) => i % procCount === k),
        reportComplete: cfg.window !== null,
      }),
    ),
  );
  const subscribersPerChat = new Map<number, number>();
  const procsPerChat = new Map<number, number>();
  for (const p of subscriberProcs) {
    for (const [chat, n] of p.perChat) {
      subscribersPerChat.set(chat, (subscribersPerChat.get(chat) ?? 0) + n);
      procsPerChat.set(chat, (procsPerChat.get(chat) ?? 0) + 1);
    }
  }
  const delivered = (): number => subscriberProcs.reduce((n, p) => n + p.delivered, 0);
  log(`${cfg.subscribers} subscribers in ${subscriberProcs.length} process(es) on ${servers.wsUrls.length} server process(es), ${cfg.chats} chat(s)`);

  // Senders: JSON sockets.
  const senders: WebSocket[] = [];
  for (let i = 0; i < cfg.senders; i++) senders.push(await open(servers.wsUrls[i % servers.wsUrls.length]!, "chat.v1.json"));
  const ackLatency = new Samples();
  const pending = new Map<string, { at: number; chat: number }>();
  const acked: { chat: number; number: number }[] = [];
  const errors: Record<string, number> = {};
  // --window: sends some subscriber process still lacks, by sequence number → processes left.
  const undelivered = new Map<number, number>();
  let onComplete: (seq: number) => void = () => undefined;
  for (const p of subscriberProcs) p.onComplete = (seq) => onComplete(seq);
  senders.forEach((ws) =>
    ws.on("message", (data: Buffer) => {
      const f = JSON.parse(data.toString("utf8")) as Frame;
      const p = pending.get(f.ref);
      if (!p) return;
      pending.delete(f.ref);
      if (f.op === "ack") {
        ackLatency.add(epochMs() - p.at);
        acked.push({ chat: p.chat, number: f.number });
      } else {
        errors[f.code] = (errors[f.code] ?? 0) + 1;
        // Nothing will be delivered for a refused send.
        const seq = Number(String(f.ref).slice(1));
        if (undelivered.delete(seq)) onComplete(seq);
      }
    }),
  );
  const pad = "x".repeat(Math.max(0, cfg.bodyBytes - 40));
  let sent = 0;
  const sendOne = (): void => {
    const s = sent % senders.length;
    const chat = 1 + (sent % cfg.chats);
    const ref = `s${sent}`;
    const at = epochMs();
    pending.set(ref, { at, chat });
    if (cfg.window) undelivered.set(sent, procsPerChat.get(chat) ?? 0);
    encode(senders[s]!, { op: "send", ref, app, chat, body: sendBody(s, sent, at, pad) });
    sent++;
  };
  log(WS_LOAD_MARKS.sending);
  const start = epochMs();
  const lastDeliveryAt = (): number => Math.max(0, ...subscriberProcs.map((p) => p.lastDeliveryAt));
  if (cfg.window) {
    const limit = cfg.window;
    const deadline = start + cfg.durationS * 1000;
    await new Promise<void>((resolve) => {
      // Sends stop at the deadline, or when nothing was delivered for 10 s (a
      // subscriber cut off would otherwise hold its sends open forever).
      const stall = setInterval(() => {
        if (epochMs() - Math.max(lastDeliveryAt(), start) > 10_000) finish();
      }, 500);
      const finish = (): void => {
        clearInterval(stall);
        resolve();
      };
      const refill = (): void => {
        if (epochMs() >= deadline) return finish();
        while (undelivered.size < limit) sendOne();
      };
      onComplete = (seq) => {
        const left = undelivered.get(seq);
        if (left !== undefined && left > 1) return void undelivered.set(seq, left - 1);
        undelivered.delete(seq);
        refill();
      };
      refill();
    });
  } else {
    const total = Math.round(cfg.rate * cfg.durationS);
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(total, Math.floor(((epochMs() - start) / 1000) * cfg.rate));
        while (sent < due) sendOne();
        if (sent >= total) {
          clearInterval(tick);
          resolve();
        }
      }, 2);
    });
  }
  const sendWindowS = (epochMs() - start) / 1000;

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
  await waitFor(() => delivered() >= expected, 3000, delivered);
  const windowS = ((lastDeliveryAt() || epochMs()) - start) / 1000;
  log(WS_LOAD_MARKS.drained);
  for (const ws of senders) ws.terminate();
  const results = await Promise.all(subscriberProcs.map((p) => p.finish(acked)));

  const e2e = Samples.merged(results.map((r) => r.e2eMs));
  const closes: Record<string, number> = {};
  for (const r of results) for (const [code, n] of Object.entries(r.closes)) closes[code] = (closes[code] ?? 0) + n;
  const total = (key: "delivered" | "duplicates" | "outOfOrder" | "missing"): number => results.reduce((n, r) => n + r[key], 0);
  const [p50, p95, p99, max] = e2e.percentiles([50, 95, 99, 100]);
  const [a50, a95, a99] = ackLatency.percentiles([50, 95, 99]);
  const r3 = (v: number | null | undefined): number | null => (v == null ? null : Math.round(v * 1000) / 1000);
  return {
    config: { ...cfg, processes: servers.wsUrls.length },
    sends: { sent, acked: acked.length, errors, unanswered: pending.size, ackedPerSec: Math.round(acked.length / sendWindowS) },
    ackLatencyMs: { p50: r3(a50), p95: r3(a95), p99: r3(a99) },
    deliveries: {
      expected,
      delivered: total("delivered"),
      missing: total("missing"),
      duplicates: total("duplicates"),
      outOfOrder: total("outOfOrder"),
      deliveredPerSec: Math.round(total("delivered") / windowS),
      windowS: Math.round(windowS * 100) / 100,
    },
    e2eLatencyMs: { p50: r3(p50), p95: r3(p95), p99: r3(p99), max: r3(max) },
    subscriberCloses: closes,
  };
}

/** A subscriber process (bench/lib/ws-subscribers.ts), once every one of its sockets is subscribed. */
interface SubscriberProc {
  perChat: [number, number][];
  /** Latest progress it reported. */
  delivered: number;
  lastDeliveryAt: number;
  onComplete: (seq: number) => void;
  finish(acked: { chat: number; number: number }[]): Promise<SubscribersResult>;
}

async function startSubscribers(order: SubscribeOrder): Promise<SubscriberProc> {
  const child = fork(fileURLToPath(new URL("./lib/ws-subscribers.ts", import.meta.url)), [], {
    execArgv: ["--import", "tsx"],
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`a subscriber process exited (${code})`))));
  exited.catch(() => undefined);
  let result: ((r: SubscribersResult) => void) | null = null;
  const subscribed = new Promise<[number, number][]>((resolve, reject) => {
    child.on("message", (msg: FromSubscribers) => {
      if (msg.type === "subscribed") resolve(msg.perChat);
      else if (msg.type === "progress") {
        proc.delivered = msg.delivered;
        proc.lastDeliveryAt = msg.lastDeliveryAt;
      } else if (msg.type === "complete") proc.onComplete(msg.seq);
      else if (msg.type === "result") {
        proc.delivered = msg.delivered;
        proc.lastDeliveryAt = msg.lastDeliveryAt;
        result?.(msg);
      } else reject(new Error(msg.message));
    });
  });
  const proc: SubscriberProc = {
    perChat: [],
    delivered: 0,
    lastDeliveryAt: 0,
    onComplete: () => undefined,
    finish: (acked) =>
      Promise.race([
        new Promise<SubscribersResult>((resolve) => {
          result = resolve;
          const order: FinishOrder = { type: "finish", acked };
          child.send(order);
        }),
        exited,
      ]),
  };
  child.send(order);
  proc.perChat = await Promise.race([subscribed, exited]);
  return proc;
}

const servers = await startServers();
try {
  const result = await run(servers);
  if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const r = result as any;
    process.stdout.write(
      [
        `ws-load: ${r.config.subscribers} subscribers on ${r.config.processes} process(es), ${r.config.chats} chat(s), ${r.config.window ? `window of ${r.config.window}` : `${r.config.rate}/s`} for ${r.config.durationS}s, ${r.config.senders} senders, ${r.config.protocol}, ${r.config.bodyBytes} B bodies`,
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
