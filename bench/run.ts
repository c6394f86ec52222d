// npm run bench [-- --duration 10] [--smoke] [--only REGEX] [--targets baseline,ceiling,product,product-cluster[,product-nodelay]]
//                 [--profile] [--rate 1000,5000] [--drain-count 20000] [--chats 1000]
//
// One run, one machine, three servers side by side:
//   product   cluster mode: API process A (takes the load), API process B
//             (WebSocket subscribers for the end-to-end scenario), one worker,
//             on the local MariaDB, Redis, RabbitMQ and Elasticsearch;
//   baseline  bench/baseline/server.ts, write-through to MySQL per create;
//   ceiling   bench/ceiling/server.ts, the same uWS routes with no backend;
//   product-cluster the same product stack on the local Redis Cluster (three
//             primaries, three replicas on this machine) instead of one Redis;
//   product-nodelay (only when asked) a second product stack with TCP_NODELAY
//             forced on by bench/lib/nodelay-preload.mjs: an experiment.
// --profile runs only the product (create-hot-c50 unless --only says) with
// API process A under node --cpu-prof and prints its top self-time functions.
// Each scenario runs against every target that supports it, one after the
// other (baseline, ceiling, product), then the product's queues are allowed
// to drain so one scenario's backlog never loads the next. Results go to
// stdout (a Markdown table) and .cache/bench/*.json. Nothing here asserts a
// timing; --smoke only checks that every scenario produced answers.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { services } from "../test/support/env.js";
import { runE2e } from "./lib/e2e.js";
import { measureFloors, type Floor } from "./lib/floors.js";
import { runLag } from "./lib/lag.js";
import { runHttpLoad, type HttpLoadResult } from "./lib/http-load.js";
import { repoRoot } from "./lib/procs.js";
import type { LatencySummary } from "./lib/stats.js";
import { E2E_CHATS, startBaseline, startCeiling, startProduct, type Target, type TargetName } from "./lib/targets.js";
import { runWsLoad } from "./lib/ws-load-runner.js";
import { runWsSend } from "./lib/ws-send.js";
import { formatSummary, summarize, type CpuProfile, type Window } from "./profile-summary.js";

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string" },
    smoke: { type: "boolean", default: false },
    only: { type: "string" },
    targets: { type: "string" },
    profile: { type: "boolean", default: false },
    /** Comma-separated e2e rates, e.g. 1000,5000. */
    rate: { type: "string" },
    "drain-count": { type: "string" },
    /** Sustained create rate of the lag scenario (default: about half the spread maximum here). */
    "lag-rate": { type: "string" },
    "lag-duration": { type: "string" },
    chats: { type: "string" },
  },
});

const smoke = flags.smoke === true;
const num = (raw: string | undefined, fallback: number, name: string): number => {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number, got ${raw}`);
  return v;
};
const cfg = {
  durationS: num(flags.duration, smoke ? 0.2 : 10, "duration"),
  spreadChats: num(flags.chats, smoke ? 20 : 1000, "chats"),
  seedMessages: smoke ? 20 : 200,
  drainCount: num(flags["drain-count"], smoke ? 200 : 20_000, "drain-count"),
  /** Open-loop create rates for the end-to-end scenario: one the product can sustain, one it cannot (on 2 busy cores). */
  e2eRates: flags.rate ? flags.rate.split(",").map((r) => num(r, 0, "rate")) : smoke ? [200] : [1000, 5000],
  e2eConnections: smoke ? 20 : 200,
  e2eSubscribers: smoke ? 1 : 2,
  /** bench/ws-load.ts: delivered frames per second = rate × subscribers / chats. */
  wsFanout: smoke ? { rate: 200, subscribers: 10, chats: 10 } : { rate: 2000, subscribers: 100, chats: 10 },
  wsSockets: smoke ? 10 : 50,
  wsWindow: 4,
  settleTimeoutMs: smoke ? 20_000 : 180_000,
  lagRate: num(flags["lag-rate"], smoke ? 200 : 3000, "lag-rate"),
  lagDurationS: num(flags["lag-duration"], smoke ? 1 : 60, "lag-duration"),
};
/**
 * How long an HTTP run lasts: --duration seconds; in the smoke a fixed count
 * (two requests per connection), so a slow first answer can never leave a
 * run with nothing to show, whatever the machine is doing.
 */
const span = (connections: number): { durationS: number } | { amount: number } => (smoke ? { amount: 2 * connections } : { durationS: cfg.durationS });
const targetNames = (flags.targets ?? (flags.profile ? "product" : "baseline,ceiling,product,product-cluster")).split(",").map((t) => t.trim()) as TargetName[];
for (const t of targetNames) if (!["baseline", "ceiling", "product", "product-nodelay", "product-cluster"].includes(t)) throw new Error(`unknown target ${t}`);
const only = flags.only ? new RegExp(flags.only) : flags.profile ? /^create-hot-c50$/ : null;

const log = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};

// --- results

type Status = "ok" | "n/a" | "failed";

interface Row {
  scenario: string;
  target: TargetName;
  status: Status;
  note?: string;
  /** Successful operations per second (2xx, acks, durable rows for drain). */
  perSec: number | null;
  latency: LatencySummary | null;
  ok: number;
  non2xx: number;
  errors: number;
  vsBaseline?: number | null;
  vsCeiling?: number | null;
  detail?: Record<string, unknown>;
}

interface Scenario {
  id: string;
  title: string;
  targets: TargetName[];
  run(target: Target): Promise<Omit<Row, "scenario" | "target">>;
}

const fromHttp = (r: HttpLoadResult, extra: Record<string, unknown> = {}): Omit<Row, "scenario" | "target"> => ({
  status: "ok",
  perSec: r.okPerSec,
  latency: r.latency,
  ok: r.ok,
  non2xx: r.non2xx,
  errors: r.errors,
  detail: { durationS: r.durationS, statusCodes: r.statusCodes, timeouts: r.timeouts, ...extra },
});

const messagesPath = (t: Target, chat: number): string => `/api/v1/applications/${t.app}/chats/${chat}/messages`;
let bodySeq = 0;
const nextBody = (): string => `{"body":"bench message ${++bodySeq}"}`;
const STATIC_BODY = '{"body":"bench message: hello, world"}';

function createScenario(kind: "hot" | "spread", connections: number): Scenario {
  return {
    id: `create-${kind}-c${connections}`,
    title: `POST message, ${kind === "hot" ? "one hot chat" : `spread over ${cfg.spreadChats} chats`}, ${connections} connections`,
    targets: ["baseline", "ceiling", "product"],
    async run(t) {
      const r = await runHttpLoad(
        kind === "hot"
          ? { origin: t.origin, method: "POST", path: messagesPath(t, t.chats.hot), body: STATIC_BODY, connections, ...span(connections) }
          : {
              origin: t.origin,
              method: "POST",
              path: () => messagesPath(t, 1 + Math.floor(Math.random() * t.chats.spread)),
              body: nextBody,
              connections,
              ...span(connections),
            },
      );
      return fromHttp(r);
    },
  };
}

function e2eScenario(rate: number): Scenario {
  return {
    id: `e2e-rest-to-ws-${rate}`,
    title: `End to end: REST creates at ${rate}/s (open loop, ${cfg.e2eConnections} connections, round-robin over ${E2E_CHATS} chats) on API process A → ${cfg.e2eSubscribers} WebSocket subscriber(s) of all those chats on API process B; latency = body's send time → frame parsed`,
    targets: ["ceiling", "product"],
    async run(t) {
      const r = await runE2e({
        restOrigin: t.origin,
        wsUrl: t.wsUrlOther,
        app: t.app,
        chats: t.chats.e2e,
        rate,
        durationS: cfg.durationS,
        connections: cfg.e2eConnections,
        subscribers: cfg.e2eSubscribers,
      });
      const problems = [
        r.achievedPerSec < 0.95 * rate && `kept ${Math.round(r.achievedPerSec)} of ${rate}/s: latency is mostly client-side queueing`,
        r.missing && `${r.missing} created messages never reached a subscriber`,
        r.duplicates && `${r.duplicates} duplicates`,
        r.outOfOrder && `${r.outOfOrder} out of order`,
      ].filter(Boolean);
      return {
        status: "ok",
        note: [t.name === "ceiling" ? "one process, uWS topic (no Redis)" : "", ...problems].filter(Boolean).join("; ") || undefined,
        perSec: r.achievedPerSec,
        latency: r.e2e,
        ok: r.created,
        non2xx: r.non2xx,
        errors: r.errors + r.missing,
        detail: { ...r },
      };
    },
  };
}

const scenarios: Scenario[] = [
  createScenario("hot", 50),
  createScenario("hot", 200),
  createScenario("spread", 50),
  createScenario("spread", 200),
  {
    id: "get-newest-c50",
    title: "GET newest page of messages (50) of the hot chat, 50 connections",
    targets: ["baseline", "ceiling", "product"],
    async run(t) {
      return fromHttp(await runHttpLoad({ origin: t.origin, method: "GET", path: messagesPath(t, t.chats.hot), connections: 50, ...span(50) }));
    },
  },
  {
    id: "get-one-c50",
    title: "GET one message (random number in the hot chat), 50 connections",
    targets: ["baseline", "ceiling", "product"],
    async run(t) {
      const max = Math.max(1, await t.maxNumber(t.chats.hot));
      const r = await runHttpLoad({
        origin: t.origin,
        method: "GET",
        path: () => `${messagesPath(t, t.chats.hot)}/${1 + Math.floor(Math.random() * max)}`,
        connections: 50,
        ...span(50),
      });
      return fromHttp(r, { numbersFrom: `1..${max}` });
    },
  },
  {
    id: "drain",
    title: `Queue drain: ${cfg.drainCount} creates spread over ${cfg.spreadChats} chats (200 connections), then until MySQL holds every acknowledged one`,
    targets: ["baseline", "product"],
    async run(t) {
      const idBefore = (await t.maxMessageId()) ?? 0;
      const acked = new Set<string>();
      const r = await runHttpLoad({
        origin: t.origin,
        method: "POST",
        path: () => messagesPath(t, 1 + Math.floor(Math.random() * t.chats.spread)),
        body: nextBody,
        connections: 200,
        amount: cfg.drainCount,
        onBody: (status, body) => {
          if (status !== 201) return;
          const m = JSON.parse(body) as { number: number; chat_number: number };
          acked.add(`${m.chat_number}:${m.number}`);
        },
      });
      const createdAt = performance.now();
      let persisted = 0;
      let drainMs: number | null = null;
      while (performance.now() - createdAt < cfg.settleTimeoutMs) {
        persisted = (await t.countMessagesAfter(idBefore)) ?? 0;
        if (persisted >= acked.size) {
          drainMs = performance.now() - createdAt;
          break;
        }
        await new Promise((res) => setTimeout(res, 25));
      }
      const keys = (await t.messageKeysAfter(idBefore)) ?? new Set<string>();
      const lost = [...acked].filter((k) => !keys.has(k)).length;
      const totalS = r.durationS + (drainMs ?? cfg.settleTimeoutMs) / 1000;
      return {
        status: drainMs === null ? "failed" : "ok",
        note: [
          drainMs === null ? `not drained after ${cfg.settleTimeoutMs} ms (${persisted}/${acked.size})` : `creates ${fmt(r.okPerSec)}/s for ${r.durationS} s, then MySQL complete ${fmt(drainMs)} ms after the last ack`,
          lost ? `${lost} ACKNOWLEDGED MESSAGES MISSING FROM MYSQL` : "",
          keys.size > acked.size ? `${keys.size - acked.size} rows beyond the acknowledged (answers lost to client timeouts)` : "",
        ]
          .filter(Boolean)
          .join("; "),
        // Durable rate: acknowledged messages per second until the last one is in MySQL.
        perSec: acked.size / totalS,
        latency: r.latency,
        ok: acked.size,
        non2xx: r.non2xx,
        errors: r.errors + lost,
        detail: { createS: r.durationS, createPerSec: r.okPerSec, drainMs, persisted, acked: acked.size, lostAcknowledged: lost, statusCodes: r.statusCodes },
      };
    },
  },
  {
    id: "lag",
    title: `MySQL lag under a sustained ${cfg.lagRate}/s of creates for ${cfg.lagDurationS} s, spread over ${cfg.spreadChats} chats`,
    targets: ["product"],
    async run(t) {
      const idBefore = (await t.maxMessageId()) ?? 0;
      const r = await runLag({
        origin: t.origin,
        path: () => messagesPath(t, 1 + Math.floor(Math.random() * t.chats.spread)),
        body: nextBody,
        rate: cfg.lagRate,
        durationS: cfg.lagDurationS,
        connections: 200,
        persisted: async () => (await t.countMessagesAfter(idBefore)) ?? 0,
      });
      const kept = r.achievedPerSec >= cfg.lagRate * 0.95;
      return {
        status: r.catchUpMs === null ? "failed" : "ok",
        note: `max MySQL lag ${r.maxLagS.toFixed(2)} s over ${r.samples.length} samples; all persisted ${r.catchUpMs === null ? "NEVER" : `${fmt(r.catchUpMs)} ms`} after the last ack${kept ? "" : `; kept only ${fmt(r.achievedPerSec)} of ${cfg.lagRate}/s`}`,
        perSec: r.achievedPerSec,
        latency: r.rest,
        ok: r.acked,
        non2xx: r.failed,
        errors: 0,
        detail: { rate: cfg.lagRate, maxLagS: r.maxLagS, catchUpMs: r.catchUpMs, samples: r.samples },
      };
    },
  },
  {
    id: "ws-send-hot",
    title: `WebSocket send → ack, one hot chat, ${cfg.wsSockets} sockets × ${cfg.wsWindow} in flight`,
    targets: ["ceiling", "product"],
    async run(t) {
      const r = await runWsSend({ url: t.wsUrl, app: t.app, chat: t.chats.hot, sockets: cfg.wsSockets, window: cfg.wsWindow, durationS: cfg.durationS });
      return {
        status: "ok",
        perSec: r.okPerSec,
        latency: r.latency,
        ok: r.ok,
        non2xx: r.rejected,
        errors: r.errors,
        detail: { durationS: r.durationS, outcomes: r.outcomes, closes: r.closes, unanswered: r.unanswered },
      };
    },
  },
  ...cfg.e2eRates.map(e2eScenario),
  {
    id: "ws-fanout",
    title: `WebSocket fanout with bench/ws-load.ts: sends at ${cfg.wsFanout.rate}/s (open loop) round-robin over ${cfg.wsFanout.chats} chats, ${cfg.wsFanout.subscribers} subscribers (chat 1 + i % ${cfg.wsFanout.chats}) spread over API processes A and B; ok/s = frames delivered per second, latency = send → frame`,
    targets: ["ceiling", "product"],
    async run(t) {
      const r = await runWsLoad({
        urls: t.wsUrl === t.wsUrlOther ? [t.wsUrl] : [t.wsUrl, t.wsUrlOther],
        app: t.app,
        chats: cfg.wsFanout.chats,
        rate: cfg.wsFanout.rate,
        durationS: cfg.durationS,
        subscribers: cfg.wsFanout.subscribers,
      });
      const rejected = Object.values(r.sends.errors).reduce((a, b) => a + b, 0);
      const notes = [
        `sends acked ${r.sends.ackedPerSec}/s, ack p50 ${fmtMs(r.ackLatencyMs.p50)} p99 ${fmtMs(r.ackLatencyMs.p99)} ms`,
        r.sends.ackedPerSec < 0.95 * cfg.wsFanout.rate ? `kept ${r.sends.ackedPerSec} of ${cfg.wsFanout.rate}/s` : "",
        r.deliveries.missing ? `${r.deliveries.missing} deliveries missing` : "",
        r.deliveries.duplicates ? `${r.deliveries.duplicates} duplicates` : "",
        r.deliveries.outOfOrder ? `${r.deliveries.outOfOrder} out of order` : "",
        t.name === "ceiling" ? "one process, uWS topics" : "",
      ];
      return {
        status: "ok",
        note: notes.filter(Boolean).join("; "),
        perSec: r.deliveries.deliveredPerSec,
        latency: { count: r.deliveries.delivered, p50: r.e2eLatencyMs.p50, p90: null, p99: r.e2eLatencyMs.p99, max: r.e2eLatencyMs.max },
        ok: r.deliveries.delivered,
        non2xx: rejected,
        errors: r.deliveries.missing + r.deliveries.duplicates + r.sends.unanswered,
        detail: { ...r },
      };
    },
  },
];

// --- formatting

const fmt = (v: number | null | undefined, digits = 0): string => (v === null || v === undefined ? "—" : v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const fmtMs = (v: number | null | undefined): string => (v === null || v === undefined ? "—" : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const fmtRatio = (v: number | null | undefined): string => (v === null || v === undefined ? "—" : `${v < 10 ? v.toFixed(2) : v.toFixed(1)}×`);

function table(rows: Row[]): string {
  const out = [
    "| scenario | target | ok/s | p50 ms | p99 ms | ok | non-2xx | errors | vs baseline | vs ceiling | notes |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const r of rows) {
    out.push(
      `| ${r.scenario} | ${r.target} | ${fmt(r.perSec)} | ${fmtMs(r.latency?.p50)} | ${fmtMs(r.latency?.p99)} | ${r.status === "ok" ? fmt(r.ok) : "—"} | ${r.status === "ok" ? fmt(r.non2xx) : "—"} | ${r.status === "ok" ? fmt(r.errors) : "—"} | ${fmtRatio(r.vsBaseline)} | ${fmtRatio(r.vsCeiling)} | ${r.status === "ok" ? (r.note ?? "") : `${r.status}${r.note ? `: ${r.note}` : ""}`} |`,
    );
  }
  return out.join("\n");
}

function addRatios(rows: Row[]): void {
  for (const r of rows) {
    if (r.status !== "ok" || r.perSec === null) continue;
    const peer = (name: TargetName): Row | undefined => rows.find((x) => x.scenario === r.scenario && x.target === name && x.status === "ok" && x.perSec);
    const base = peer("baseline");
    const ceil = peer("ceiling");
    // A fixed-rate scenario has the same ok/s everywhere by design: compare nothing.
    if (r.scenario.startsWith("e2e")) continue;
    r.vsBaseline = base ? r.perSec / base.perSec! : null;
    r.vsCeiling = ceil ? r.perSec / ceil.perSec! : null;
  }
}

// --- main

/** Linux CLOCK_MONOTONIC in µs: the clock V8 stamps .cpuprofile samples with. */
const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

async function main(): Promise<void> {
  const outDir = join(repoRoot, ".cache", "bench");
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const profileDir = flags.profile ? join(outDir, `profile-${stamp}`) : undefined;
  const selected = scenarios.filter((s) => !only || only.test(s.id));
  if (selected.length === 0) throw new Error(`--only ${flags.only} matches no scenario (${scenarios.map((s) => s.id).join(", ")})`);

  const started = Date.now();
  const targets = new Map<TargetName, Target>();
  const products: Awaited<ReturnType<typeof startProduct>>[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all([...targets.values()].map((t) => t.stop().catch((err: unknown) => log(`stopping ${t.name}: ${String(err)}`))));
    targets.clear();
  };
  let interrupted = false;
  process.once("SIGINT", () => {
    interrupted = true;
    log("interrupted: stopping servers and cleaning up");
    void stopAll().finally(() => process.exit(130));
  });

  const rows: Row[] = [];
  /** CPU per successful answer of the product's variants: their processes, and their Redis servers. */
  const cpuRows: { scenario: string; target: TargetName; ok: number; appUs: number; redisUs: number }[] = [];
  // Product load time span, to cut startup (tsx compiling, connecting) out of the CPU profile.
  let loadWindow = null as Window | null;
  const settles: Record<string, unknown>[] = [];
  let profileText: string | null = null;
  let profileSummary: unknown = null;
  let fatal: unknown = null;
  let floors: Floor[] = [];
  try {
    log(`config ${JSON.stringify({ ...cfg, smoke, targets: targetNames, only: flags.only ?? null, profile: flags.profile })}`);
    if (targetNames.includes("ceiling")) targets.set("ceiling", await startCeiling({ spreadChats: cfg.spreadChats }, log));
    if (targetNames.includes("baseline")) targets.set("baseline", await startBaseline({ spreadChats: cfg.spreadChats, seedMessages: cfg.seedMessages }, log));
    for (const name of ["product", "product-nodelay", "product-cluster"] as const) {
      if (!targetNames.includes(name)) continue;
      const p = await startProduct(
        { spreadChats: cfg.spreadChats, seedMessages: cfg.seedMessages, profileDir: products.length === 0 ? profileDir : undefined, forceNoDelay: name === "product-nodelay", redisCluster: name === "product-cluster" },
        log,
      );
      targets.set(name, p);
      products.push(p);
      const s = await p.settle(cfg.settleTimeoutMs);
      log(`${name} ready (setup backlog settled in ${s.ms} ms)`);
    }
    log(`setup done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (!flags.profile) {
      floors = await measureFloors({ amqp: services.amqp, redis: services.redis, mysql: services.mysql }, `benchfloor_${randomBytes(3).toString("hex")}_`, smoke ? 20 : 200);
      for (const f of floors) log(`floor ${f.name}: p50 ${fmtMs(f.latency.p50)} p99 ${fmtMs(f.latency.p99)} ms`);
    }

    for (const scenario of selected) {
      for (const name of ["baseline", "ceiling", "product", "product-nodelay", "product-cluster"] as const) {
        const target = targets.get(name);
        if (!target) continue;
        // The product's variants run wherever the product does.
        if (!scenario.targets.includes(name === "product-nodelay" || name === "product-cluster" ? "product" : name)) {
          rows.push({ scenario: scenario.id, target: name, status: "n/a", note: name === "baseline" ? "no WebSocket in the write-through design" : "nothing durable to drain", perSec: null, latency: null, ok: 0, non2xx: 0, errors: 0 });
          continue;
        }
        if (!target.health().alive) {
          rows.push({ scenario: scenario.id, target: name, status: "failed", note: "server process is gone", perSec: null, latency: null, ok: 0, non2xx: 0, errors: 0 });
          continue;
        }
        const t0 = Date.now();
        const startUs = monotonicUs();
        const cpuBefore = await target.cpu?.();
        let row: Row;
        try {
          row = { scenario: scenario.id, target: name, ...(await scenario.run(target)) };
          const cpuAfter = await target.cpu?.();
          if (cpuBefore && cpuAfter && row.ok > 0) {
            cpuRows.push({ scenario: scenario.id, target: name, ok: row.ok, appUs: ((cpuAfter.app - cpuBefore.app) * 1000) / row.ok, redisUs: ((cpuAfter.redis - cpuBefore.redis) * 1000) / row.ok });
          }
          if (name === "product" || name === "product-nodelay" || name === "product-cluster") loadWindow = { startUs: loadWindow?.startUs ?? startUs, endUs: monotonicUs() };
        } catch (err) {
          row = { scenario: scenario.id, target: name, status: "failed", note: err instanceof Error ? err.message : String(err), perSec: null, latency: null, ok: 0, non2xx: 0, errors: 0 };
        }
        rows.push(row);
        // Let this product's worker and indexer finish before anything else runs, so a
        // backlog never takes CPU from the next run (the next target, or the next scenario).
        const settled = await target.settle(cfg.settleTimeoutMs);
        if (settled.ms > 0) settles.push({ target: name, after: scenario.id, ...settled });
        if (!settled.settled) row.note = [row.note, `backlog of ${settled.backlog} still queued ${settled.ms} ms later`].filter(Boolean).join("; ");
        else if (settled.ms > 1000) {
          row.detail = { ...row.detail, backlogDrainedMs: settled.ms };
          row.note = [row.note, `backlog drained ${(settled.ms / 1000).toFixed(1)} s after`].filter(Boolean).join("; ");
        }
        log(
          `${scenario.id} ${name}: ${row.status} ${fmt(row.perSec)} ok/s p50 ${fmtMs(row.latency?.p50)} p99 ${fmtMs(row.latency?.p99)} ms ok ${row.ok} non-2xx ${row.non2xx} errors ${row.errors}${row.note ? ` (${row.note})` : ""} [${((Date.now() - t0) / 1000).toFixed(1)} s]`,
        );
      }
      if (interrupted) return;
    }

    if (products.length && profileDir) {
      // One product in profile mode (the first given), so one profile directory.
      await products[0]!.stopApiA();
      // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's loader hooks run in another).
      const files = readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile"));
      const file = files.find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)) ?? files[0];
      if (!file) throw new Error(`no .cpuprofile written in ${profileDir}`);
      const summary = summarize(JSON.parse(readFileSync(join(profileDir, file), "utf8")) as CpuProfile, 10, loadWindow);
      profileSummary = { file: join(profileDir, file), ...summary };
      profileText = formatSummary(summary);
    }
  } catch (err) {
    fatal = err;
    throw err;
  } finally {
    const health = [...targets.values()].map((t) => ({ target: t.name, ...t.health() }));
    await stopAll();
    addRatios(rows);
    const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "?", memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}` };
    const report = { startedAt: new Date(started).toISOString(), wallS: (Date.now() - started) / 1000, machine, config: { ...cfg, smoke, targets: targetNames }, rows, cpu: cpuRows, floors, settles, health, profile: profileSummary };
    const name = `${smoke ? "smoke" : flags.profile ? "profile" : "bench"}-${stamp}.json`;
    writeFileSync(join(outDir, name), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(outDir, smoke ? "latest-smoke.json" : "latest.json"), `${JSON.stringify(report, null, 2)}\n`);

    process.stdout.write(`\n## Results (${machine.cpus} cores, ${machine.memGiB} GiB, Node ${machine.node}; ${smoke ? "SMOKE: tiny durations, figures meaningless" : `${cfg.durationS} s per run`})\n\n`);
    process.stdout.write(`${table(rows)}\n\n`);
    for (const s of selected) process.stdout.write(`- ${s.id}: ${s.title}\n`);
    if (cpuRows.length) {
      process.stdout.write("\n### CPU per successful answer (the product's API processes and worker; its Redis servers, the single one shared with whatever else uses it)\n\n");
      process.stdout.write("| scenario | target | ok | app CPU µs/ok | Redis CPU µs/ok |\n|---|---|---:|---:|---:|\n");
      for (const c of cpuRows) process.stdout.write(`| ${c.scenario} | ${c.target} | ${fmt(c.ok)} | ${c.appUs.toFixed(0)} | ${c.redisUs.toFixed(0)} |\n`);
    }
    if (floors.length) {
      process.stdout.write("\n### Backend round trips, one at a time (the floor under every create)\n\n| round trip | p50 ms | p99 ms | what |\n|---|---:|---:|---|\n");
      for (const f of floors) process.stdout.write(`| ${f.name} | ${fmtMs(f.latency.p50)} | ${fmtMs(f.latency.p99)} | ${f.what} |\n`);
    }
    const problems = health.flatMap((h) => h.problems);
    if (problems.length) {
      process.stdout.write(`\n### Logged by the servers (${problems.length} lines, first 20)\n\n`);
      for (const p of problems.slice(0, 20)) process.stdout.write(`- ${p}\n`);
    }
    if (profileText) process.stdout.write(`\n### CPU profile of API process A (self time)\n\n${profileText}\n`);
    process.stdout.write(`\nJSON: ${join(".cache", "bench", name)}\n`);

    if (smoke) {
      // The smoke checks that the harness works end to end, never a timing.
      const broken = rows.filter((r) => r.status === "failed" || (r.status === "ok" && r.ok === 0));
      const dead = health.filter((h) => !h.alive);
      if (fatal) {
        process.stderr.write("smoke FAILED: the run did not complete (see below)\n");
        process.exitCode = 1;
      } else if (broken.length || dead.length) {
        process.stderr.write(`smoke FAILED: ${[...broken.map((r) => `${r.scenario}/${r.target}: ${r.status} ${r.note ?? "no successful answer"}`), ...dead.map((d) => `${d.target} died`)].join("; ")}\n`);
        process.exitCode = 1;
      } else {
        process.stderr.write(`smoke ok: ${rows.filter((r) => r.status === "ok").length} runs answered in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      }
    }
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
