// npm run bench [-- --duration 10] [--smoke] [--only REGEX] [--targets baseline,ceiling,product,product-cluster[,product-nodelay]]
//                 [--profile] [--rate 1000,5000] [--drain-count 20000] [--chats 1000]
//                 [--overload-duration 30] [--overload-rate R] [--overload-step 5] [--load-procs 2] [--overload-connections MAX_INFLIGHT_CREATES+1000]
//                 [--fanout-subscribers 2000]
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
// --profile runs only the product (drain-spread unless --only says) with
// API process A and the worker under node --cpu-prof and prints their top
// self-time functions.
// Each scenario runs against every target that supports it, one after the
// other (baseline, ceiling, product), then the product's queues are allowed
// to drain so one scenario's backlog never loads the next. The drain,
// overload and fanout-max scenarios also measure the CPU time of every
// process involved (bench/lib/cpu.ts), printed per create / per frame with
// the ratios issue 10 sets goals for. Results go to stdout (Markdown tables)
// and .cache/bench/*.json. Nothing here asserts a timing; --smoke only checks
// that every scenario produced answers.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config.js";
import { services } from "../test/support/env.js";
import { COMPONENT_LABELS, COMPONENTS, openCpuWindow, servicePids, type Component, type CpuUsage, type CpuWindow } from "./lib/cpu.js";
import { runE2e } from "./lib/e2e.js";
import { measureFloors, type Floor } from "./lib/floors.js";
import { runLag } from "./lib/lag.js";
import { runHttpLoad, type HttpLoadResult } from "./lib/http-load.js";
import { OpenLoopClients, type OpenLoopResult } from "./lib/open-loop-procs.js";
import { repoRoot } from "./lib/procs.js";
import type { LatencySummary } from "./lib/stats.js";
import { E2E_CHATS, startBaseline, startCeiling, startProduct, type StoredMessage, type Target, type TargetName } from "./lib/targets.js";
import { runWsLoad, type WsLoadResult } from "./lib/ws-load-runner.js";
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
    /** Overload: seconds at twice the sustained rate, seconds per search step, client processes, connections in all. */
    "overload-duration": { type: "string" },
    /** Offer this rate instead of twice the sustained one (skips the search), to compare builds or settings at one rate. */
    "overload-rate": { type: "string" },
    "overload-step": { type: "string" },
    "load-procs": { type: "string" },
    "overload-connections": { type: "string" },
    /** Subscribers of the one chat in ws-fanout-max. */
    "fanout-subscribers": { type: "string" },
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
  drainConnections: smoke ? 20 : 100,
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
  overload: {
    startRate: smoke ? 100 : 1000,
    stepS: num(flags["overload-step"], smoke ? 0.3 : 5, "overload-step"),
    maxSteps: smoke ? 1 : 8,
    durationS: num(flags["overload-duration"], smoke ? 0.5 : 30, "overload-duration"),
    rate: flags["overload-rate"] === undefined ? null : num(flags["overload-rate"], 0, "overload-rate"),
    procs: Math.round(num(flags["load-procs"], smoke ? 1 : 2, "load-procs")),
    // More connections than the product admits in flight (it inherits this environment), so the
    // server's bound is reached before the clients' own: otherwise the excess queues in the clients and nothing is shed.
    connections: Math.round(num(flags["overload-connections"], smoke ? 20 : loadConfig(process.env).maxInflightCreates + 1000, "overload-connections")),
    p99BoundMs: 250,
  },
  /** Two subscriber processes: one cannot read frames as fast as a uWS topic publishes them. */
  fanoutMax: { subscribers: Math.round(num(flags["fanout-subscribers"], smoke ? 20 : 2000, "fanout-subscribers")), window: 8, subscriberProcs: 2 },
};
/**
 * How long an HTTP run lasts: --duration seconds; in the smoke a fixed count
 * (two requests per connection), so a slow first answer can never leave a
 * run with nothing to show, whatever the machine is doing.
 */
const span = (connections: number): { durationS: number } | { amount: number } => (smoke ? { amount: 2 * connections } : { durationS: cfg.durationS });
const targetNames = (flags.targets ?? (flags.profile ? "product" : "baseline,ceiling,product,product-cluster")).split(",").map((t) => t.trim()) as TargetName[];
for (const t of targetNames) if (!["baseline", "ceiling", "product", "product-nodelay", "product-cluster"].includes(t)) throw new Error(`unknown target ${t}`);
const only = flags.only ? new RegExp(flags.only) : flags.profile ? /^drain-spread$/ : null;

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
  /** CPU of every process over the scenario's window, and what to divide it by. */
  cpu?: { usage: CpuUsage; count: number; unit: "create" | "frame" };
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

/** A ws-load run's row: frames delivered per second, and every delivery fault it found after the scenario's own notes. */
function wsLoadOutcome(r: WsLoadResult, notes: string[]): Omit<Row, "scenario" | "target"> {
  const faults = [
    r.deliveries.missing ? `${r.deliveries.missing} deliveries missing` : "",
    r.deliveries.duplicates ? `${r.deliveries.duplicates} duplicates` : "",
    r.deliveries.outOfOrder ? `${r.deliveries.outOfOrder} out of order` : "",
  ];
  return {
    status: "ok",
    note: [...notes, ...faults].filter(Boolean).join("; "),
    perSec: r.deliveries.deliveredPerSec,
    latency: { count: r.deliveries.delivered, p50: r.e2eLatencyMs.p50, p90: null, p99: r.e2eLatencyMs.p99, max: r.e2eLatencyMs.max },
    ok: r.deliveries.delivered,
    non2xx: Object.values(r.sends.errors).reduce((a, b) => a + b, 0),
    errors: r.deliveries.missing + r.deliveries.duplicates + r.sends.unanswered,
    detail: { ...r },
  };
}

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

/** Where a target's stores stood before a run (null: it has no such store). */
interface Stored {
  id: number | null;
  indexed: number | null;
  documents: number | null;
}
const storedNow = async (t: Target): Promise<Stored> => ({ id: await t.maxMessageId(), indexed: await t.indexed(), documents: await t.documents() });

/**
 * Polls until MySQL, and the search index where the target has one, hold
 * `acked` messages more than `before`: how long after the call each did
 * (null: the target has no such store, or it never did within the timeout).
 */
async function untilDurable(t: Target, before: Stored, acked: number): Promise<{ mysqlMs: number | null; searchMs: number | null; complete: boolean }> {
  const started = performance.now();
  const deadline = started + cfg.settleTimeoutMs;
  let mysqlMs: number | null = null;
  let searchMs: number | null = null;
  const mysqlDone = (): boolean => before.id === null || mysqlMs !== null;
  const searchDone = (): boolean => before.indexed === null || searchMs !== null;
  while (!(mysqlDone() && searchDone()) && performance.now() < deadline) {
    // MySQL first (a cheap COUNT by primary key); the index's stats only once MySQL is complete, as it lags behind MySQL.
    if (!mysqlDone() && ((await t.countMessagesAfter(before.id!)) ?? 0) >= acked) mysqlMs = performance.now() - started;
    if (mysqlDone() && !searchDone() && ((await t.indexed()) ?? 0) - before.indexed! >= acked) searchMs = performance.now() - started;
    if (!(mysqlDone() && searchDone())) await new Promise((res) => setTimeout(res, mysqlDone() ? 50 : 25));
  }
  return { mysqlMs, searchMs, complete: mysqlDone() && searchDone() };
}

/** After a run: acknowledged messages missing from MySQL and from the search index (null: no such store). */
async function checkStored(t: Target, before: Stored, acked: Set<string>): Promise<{ lostInMysql: number | null; beyondAcked: number; missingInSearch: number | null }> {
  const rows = before.id === null ? null : await t.messagesAfter(before.id);
  const keys = new Set((rows ?? []).map((m) => `${m.chat}:${m.number}`));
  // The index's operation count can run ahead of its documents (a retried bulk counts twice): give them a few seconds.
  let docs = before.documents === null ? null : await t.documents();
  for (const deadline = performance.now() + 5000; docs !== null && docs < before.documents! + acked.size && performance.now() < deadline; docs = await t.documents()) {
    await new Promise((res) => setTimeout(res, 250));
  }
  return {
    lostInMysql: rows === null ? null : [...acked].filter((k) => !keys.has(k)).length,
    beyondAcked: Math.max(0, keys.size - acked.size),
    missingInSearch: docs === null ? null : Math.max(0, before.documents! + acked.size - docs),
  };
}

/**
 * CPU per acknowledged create: a fixed number of creates, closed loop, then
 * until MySQL and the search index hold every acknowledged one (the
 * baseline: MySQL; the ceiling: the load's end), with the CPU time of every
 * process involved over that window (bench/lib/cpu.ts).
 */
function drainScenario(kind: "spread" | "hot"): Scenario {
  return {
    id: `drain-${kind}`,
    title: `${cfg.drainCount} creates ${kind === "hot" ? "on one hot chat" : `spread over ${cfg.spreadChats} chats`} on ${cfg.drainConnections} connections, until MySQL and the search index hold every acknowledged one; ok/s = acknowledged creates per second of that whole window; CPU per create of every process over it`,
    targets: ["baseline", "ceiling", "product"],
    async run(t) {
      const before = await storedNow(t);
      const acked = new Set<string>();
      const cpu = openCpuWindow(t);
      const r = await runHttpLoad({
        origin: t.origin,
        method: "POST",
        path: kind === "hot" ? messagesPath(t, t.chats.hot) : () => messagesPath(t, 1 + Math.floor(Math.random() * t.chats.spread)),
        body: nextBody,
        connections: cfg.drainConnections,
        amount: cfg.drainCount,
        onBody: (status, body) => {
          if (status !== 201) return;
          const m = JSON.parse(body) as { number: number; chat_number: number };
          acked.add(`${m.chat_number}:${m.number}`);
        },
      });
      const durable = await untilDurable(t, before, acked.size);
      const usage = cpu.close();
      const stored = await checkStored(t, before, acked);
      const afterLoad = (ms: number | null, what: string): string => (ms === null ? "" : `${what} complete ${fmt(ms)} ms after the last ack`);
      return {
        status: durable.complete ? "ok" : "failed",
        note: [
          durable.complete ? "" : `not durable after ${cfg.settleTimeoutMs} ms`,
          `creates ${fmt(r.okPerSec)}/s for ${r.durationS} s`,
          afterLoad(durable.mysqlMs, "MySQL"),
          afterLoad(durable.searchMs, "search index"),
          stored.lostInMysql ? `${stored.lostInMysql} ACKNOWLEDGED MESSAGES MISSING FROM MYSQL` : "",
          stored.missingInSearch ? `${stored.missingInSearch} acknowledged messages missing from the search index` : "",
          stored.beyondAcked ? `${stored.beyondAcked} rows beyond the acknowledged (answers lost to client timeouts)` : "",
        ]
          .filter(Boolean)
          .join("; "),
        perSec: acked.size / (usage.wallMs / 1000),
        latency: r.latency,
        ok: acked.size,
        non2xx: r.non2xx,
        errors: r.errors + (stored.lostInMysql ?? 0) + (stored.missingInSearch ?? 0),
        cpu: { usage, count: acked.size, unit: "create" },
        detail: { createS: r.durationS, createPerSec: r.okPerSec, ...durable, ...stored, acked: acked.size, statusCodes: r.statusCodes },
      };
    },
  };
}

/**
 * Doubles `rate` while `passes`, then bisects between the last rate that
 * passed and the first that failed, until they are within 10 % or the steps
 * run out. Returns the highest rate that passed, or null if none did.
 */
async function highestPassing(start: number, maxSteps: number, passes: (rate: number) => Promise<boolean>): Promise<number | null> {
  let lo = 0;
  let hi = Infinity;
  let rate = start;
  for (let step = 0; step < maxSteps; step++) {
    if (await passes(rate)) lo = rate;
    else hi = rate;
    if (hi - lo <= 0.1 * lo) break;
    rate = Math.round(hi === Infinity ? lo * 2 : lo === 0 ? hi / 2 : (lo + hi) / 2);
  }
  return lo > 0 ? lo : null;
}

const overloadScenario: Scenario = {
  id: "overload",
  title: `Overload: open-loop creates spread over ${cfg.spreadChats} chats from ${cfg.overload.procs} client process(es) with ${cfg.overload.connections} connections in all. First the sustained rate: the highest with p99 ≤ ${cfg.overload.p99BoundMs} ms and ≥ 99.9 % accepted (after a warm-up, ${cfg.overload.stepS} s steps from ${cfg.overload.startRate}/s, doubling then bisecting, at most ${cfg.overload.maxSteps} rates, a failed one tried three times); then twice that (or --overload-rate) for ${cfg.overload.durationS} s, until MySQL and the search index hold every accepted create; then every acknowledged create is checked in MySQL. ok/s = accepted per second, latency = accepted creates' from their due time, non-2xx = rejected`,
  targets: ["product"],
  async run(t) {
    const clients = await OpenLoopClients.start(cfg.overload.procs);
    try {
      const load = (rate: number, durationS: number, tag: string): Promise<OpenLoopResult> =>
        clients.run({ origin: t.origin, rate, durationS, connections: cfg.overload.connections, pathPrefix: `/api/v1/applications/${t.app}/chats/`, chats: t.chats.spread, bodyPrefix: `ovl:${tag}:` });
      const summary = (r: OpenLoopResult): Record<string, unknown> => {
        const { acked: _acked, failed: _failed, ...rest } = r;
        return rest;
      };
      const steps: Record<string, unknown>[] = [];
      const step = async (rate: number): Promise<boolean> => {
        const r = await load(rate, cfg.overload.stepS, `step${steps.length}`);
        const passed = r.accepted >= 0.999 * r.sent && (r.acceptedLatency.p99 ?? Infinity) <= cfg.overload.p99BoundMs;
        steps.push({ rate, passed, ...summary(r) });
        log(`overload search: ${rate}/s → accepted ${r.accepted}/${r.sent}, p99 ${fmtMs(r.acceptedLatency.p99)} ms, sends late p99 ${fmtMs(r.late.p99)} ms: ${passed ? "sustained" : "not sustained"}`);
        await t.settle(cfg.settleTimeoutMs);
        return passed;
      };
      // A first short run warms up the clients (JIT, connections) and is not judged.
      await load(cfg.overload.startRate, Math.min(2, cfg.overload.stepS), "warmup");
      await t.settle(cfg.settleTimeoutMs);
      let lowest = Infinity;
      const sustained =
        cfg.overload.rate === null
          ? await highestPassing(cfg.overload.startRate, cfg.overload.maxSteps, async (rate) => {
              lowest = Math.min(lowest, rate);
              // Other runs on this machine can spoil a step or two: a rate fails only when it fails three times.
              return (await step(rate)) || (await step(rate)) || (await step(rate));
            })
          : null;
      const rate = cfg.overload.rate ?? 2 * (sustained ?? lowest);
      const before = await storedNow(t);
      const cpu = openCpuWindow(t);
      const r = await load(rate, cfg.overload.durationS, "run");
      const durable = await untilDurable(t, before, r.accepted);
      const usage = cpu.close();
      await t.settle(cfg.settleTimeoutMs);
      const v = verifyExactlyOnce(r, (await t.messagesAfter(before.id ?? 0)) ?? []);
      const problems = [
        v.missing && `${v.missing} ACKNOWLEDGED CREATES MISSING FROM MYSQL`,
        v.duplicateNumbers && `${v.duplicateNumbers} NUMBERS ACKNOWLEDGED TWICE`,
        v.storedTwice && `${v.storedTwice} CREATES STORED MORE THAN ONCE`,
        v.wrongBody && `${v.wrongBody} ACKNOWLEDGED NUMBERS HOLDING ANOTHER BODY`,
      ].filter(Boolean);
      return {
        status: durable.complete ? "ok" : "failed",
        note: [
          cfg.overload.rate !== null ? "rate given (--overload-rate), no search" : sustained === null ? `no rate passed (lowest tried ${lowest}/s); offered twice the lowest` : `sustained ${fmt(sustained)}/s`,
          `offered ${fmt(rate)}/s for ${cfg.overload.durationS} s on ${fmt(cfg.overload.connections)} connections (sends late p99 ${fmtMs(r.late.p99)} ms, max ${fmtMs(r.late.max)} ms; accepted p99 from going onto a connection ${fmtMs(r.acceptedFromSend.p99)} ms)`,
          `rejected ${fmt(r.rejected)} (503, p99 ${fmtMs(r.rejectedLatency.p99)} ms, from going onto a connection ${fmtMs(r.rejectedFromSend.p99)} ms, ${r.rejectedWithoutRetryAfter === 0 ? "every one with Retry-After" : `${r.rejectedWithoutRetryAfter} WITHOUT Retry-After`})`,
          r.otherNon2xx ? `${r.otherNon2xx} other non-2xx` : "",
          r.errorCount ? `${r.errorCount} without an answer (${Object.entries(r.errors).map(([k, n]) => `${k} ${n}`).join(", ")})` : "",
          problems.length ? problems.join("; ") : `MySQL: every acknowledged create exactly once${v.storedUnacknowledged ? `, plus ${fmt(v.storedUnacknowledged)} stored that were never acknowledged (${Object.entries(v.storedUnacknowledgedByStatus).map(([k, n]) => `${k === "0" ? "no answer" : `answered ${k}`}: ${fmt(n)}`).join(", ")})` : ""}`,
          durable.complete ? "" : `not durable after ${cfg.settleTimeoutMs} ms`,
        ]
          .filter(Boolean)
          .join("; "),
        perSec: r.acceptedPerSec,
        latency: r.acceptedLatency,
        ok: r.accepted,
        non2xx: r.rejected + r.otherNon2xx,
        errors: r.errorCount + v.missing + v.duplicateNumbers + v.storedTwice + v.wrongBody,
        cpu: { usage, count: r.accepted, unit: "create" },
        detail: { sustainedPerSec: sustained, offeredPerSec: rate, steps, run: summary(r), durable, verify: v },
      };
    } finally {
      await clients.close();
    }
  },
};

/** Every acknowledged create in MySQL exactly once, under its own number; and what else was stored. */
function verifyExactlyOnce(r: OpenLoopResult, rows: StoredMessage[]): { missing: number; duplicateNumbers: number; storedTwice: number; wrongBody: number; storedUnacknowledged: number; storedUnacknowledgedByStatus: Record<string, number> } {
  const byKey = new Map(rows.map((m) => [`${m.chat}:${m.number}`, m.body]));
  const timesStored = new Map<string, number>();
  for (const m of rows) timesStored.set(m.body, (timesStored.get(m.body) ?? 0) + 1);
  const ackedKeys = new Set<string>();
  let missing = 0;
  let duplicateNumbers = 0;
  let wrongBody = 0;
  for (const a of r.acked) {
    const key = `${a.chat}:${a.number}`;
    if (ackedKeys.has(key)) duplicateNumbers++;
    ackedKeys.add(key);
    const body = byKey.get(key);
    if (body === undefined) missing++;
    else if (body !== a.body) wrongBody++;
  }
  const storedUnacknowledgedByStatus: Record<string, number> = {};
  for (const m of rows) {
    const status = r.failed.get(m.body);
    if (status !== undefined) storedUnacknowledgedByStatus[status] = (storedUnacknowledgedByStatus[status] ?? 0) + 1;
  }
  return {
    missing,
    duplicateNumbers,
    storedTwice: [...timesStored.values()].filter((n) => n > 1).length,
    wrongBody,
    storedUnacknowledged: Object.values(storedUnacknowledgedByStatus).reduce((a, b) => a + b, 0),
    storedUnacknowledgedByStatus,
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
  drainScenario("spread"),
  drainScenario("hot"),
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
  overloadScenario,
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
      return wsLoadOutcome(r, [
        `sends acked ${r.sends.ackedPerSec}/s, ack p50 ${fmtMs(r.ackLatencyMs.p50)} p99 ${fmtMs(r.ackLatencyMs.p99)} ms`,
        r.sends.ackedPerSec < 0.95 * cfg.wsFanout.rate ? `kept ${r.sends.ackedPerSec} of ${cfg.wsFanout.rate}/s` : "",
        t.name === "ceiling" ? "one process, uWS topics" : "",
      ]);
    },
  },
  {
    id: "ws-fanout-max",
    title: `WebSocket fanout at its maximum with bench/ws-load.ts --window: ${cfg.fanoutMax.subscribers} subscribers of one chat alternating between API processes A and B (the ceiling: its one process), read by ${cfg.fanoutMax.subscriberProcs} client processes, one sender keeping ${cfg.fanoutMax.window} messages not yet delivered to every subscriber, ${cfg.durationS} s; ok/s = frames delivered per second, latency = send → frame; CPU per frame over the sending`,
    targets: ["ceiling", "product"],
    async run(t) {
      const measured: { window?: CpuWindow; usage?: CpuUsage } = {};
      const services = servicePids(t.redisPorts);
      const r = await runWsLoad({
        urls: t.wsUrl === t.wsUrlOther ? [t.wsUrl] : [t.wsUrl, t.wsUrlOther],
        app: t.app,
        chats: 1,
        window: cfg.fanoutMax.window,
        durationS: cfg.durationS,
        subscribers: cfg.fanoutMax.subscribers,
        subscriberProcs: cfg.fanoutMax.subscriberProcs,
        // Only the sending: not the 2,000 connects and subscribes before it, nor the closes after.
        onMark: (mark) => {
          if (mark === "sending") measured.window = openCpuWindow(t, services);
          else measured.usage = measured.window?.close();
        },
      });
      const outcome = wsLoadOutcome(r, [
        `${fmt(r.sends.acked)} messages × ${cfg.fanoutMax.subscribers} subscribers in ${r.deliveries.windowS} s; ack p50 ${fmtMs(r.ackLatencyMs.p50)} p99 ${fmtMs(r.ackLatencyMs.p99)} ms`,
        Object.keys(r.subscriberCloses).length ? `subscribers closed: ${JSON.stringify(r.subscriberCloses)}` : "",
        t.name === "ceiling" ? "one process, uWS topic" : "",
      ]);
      return measured.usage ? { ...outcome, cpu: { usage: measured.usage, count: r.deliveries.delivered, unit: "frame" as const } } : outcome;
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
    // A fixed-rate scenario has the same ok/s everywhere by design: compare latency instead.
    if (r.scenario.startsWith("e2e")) {
      const ratio = r.target !== "ceiling" && ceil ? ratioOf(r.latency?.p99, ceil.latency?.p99) : null;
      if (ratio !== null) r.note = [r.note, `p99 ${fmtRatio(ratio)} the ceiling's`].filter(Boolean).join("; ");
      continue;
    }
    r.vsBaseline = base ? r.perSec / base.perSec! : null;
    r.vsCeiling = ceil ? r.perSec / ceil.perSec! : null;
  }
}

const ratioOf = (a: number | null | undefined, b: number | null | undefined): number | null => (a === null || a === undefined || !b ? null : a / b);

/** CPU per create / per frame of every process, one table per unit, from the rows that measured it. */
function cpuTables(rows: Row[]): string {
  const out: string[] = [];
  for (const unit of ["create", "frame"] as const) {
    const measured = rows.filter((r) => r.cpu?.unit === unit && r.cpu.count > 0);
    if (!measured.length) continue;
    const digits = unit === "frame" ? 2 : 0;
    out.push(
      `### CPU per ${unit === "create" ? "acknowledged create" : "delivered frame"}, µs (utime + stime from /proc over each window; — = not used by that target)`,
      "",
      `| per ${unit} | ${COMPONENTS.map((c) => COMPONENT_LABELS[c]).join(" | ")} | total | machine | unaccounted | window s | machine busy |`,
      `|---|${COMPONENTS.map(() => "---:").join("|")}|---:|---:|---:|---:|---:|`,
    );
    const notes: string[] = [];
    for (const r of measured) {
      const { usage: u, count } = r.cpu!;
      const per = (us: number | null): string => (us === null ? "?" : fmt(us / count, digits));
      const cells = COMPONENTS.map((c: Component) => (u.involves.includes(c) ? per(u.us[c]) : "—"));
      out.push(
        `| ${r.target}, ${r.scenario} | ${cells.join(" | ")} | **${per(u.totalUs)}** | ${per(u.machineBusyUs)} | ${per(u.unaccountedUs)} | ${(u.wallMs / 1000).toFixed(2)} | ${Math.round((100 * u.machineBusyUs) / u.machineCapacityUs)} % |`,
      );
      notes.push(...u.notes.map((n) => `${r.target}, ${r.scenario}: ${n}`));
    }
    out.push("", ...notes.map((n) => `- ${n}`), "");
  }
  return out.join("\n");
}

/** The figures issue 10 sets goals for, from this run's rows, each against its goal. */
function issueRatios(rows: Row[]): string {
  const row = (scenario: string, target: TargetName): Row | undefined => rows.find((r) => r.scenario === scenario && r.target === target && r.status === "ok");
  const cpuPer = (scenario: string, target: TargetName, c?: Component): number | null => {
    const cpu = row(scenario, target)?.cpu;
    if (!cpu?.count) return null;
    const us = c ? cpu.usage.us[c] : cpu.usage.totalUs;
    return us === null ? null : us / cpu.count;
  };
  const checks: { what: string; value: string; goal: string; met: boolean | null }[] = [];
  const atMost = (what: string, v: number | null, goal: number, unit = "×"): void =>
    void checks.push({ what, value: v === null ? "—" : unit === "×" ? fmtRatio(v) : `${fmtMs(v)} ${unit}`, goal: `≤ ${goal}${unit === "×" ? "×" : ` ${unit}`}`, met: v === null ? null : v <= goal });
  const atLeast = (what: string, v: number | null, goal: number): void => void checks.push({ what, value: fmtRatio(v), goal: `≥ ${goal}×`, met: v === null ? null : v >= goal });
  for (const [kind, goal] of [["spread", 3], ["hot", 2.5]] as const) {
    const id = `drain-${kind}`;
    atMost(`total CPU per create, ${kind}: product ÷ ceiling`, ratioOf(cpuPer(id, "product"), cpuPer(id, "ceiling")), goal);
    atMost(`API processes' CPU per create, ${kind}: product (A + B) ÷ ceiling server`, ratioOf(cpuPer(id, "product", "api"), cpuPer(id, "ceiling", "api")), 1.5);
    atMost(`worker (persist + index) CPU per create, ${kind}: ÷ ceiling server`, ratioOf(cpuPer(id, "product", "worker"), cpuPer(id, "ceiling", "api")), 1);
  }
  const createRate = (target: TargetName): number | null => (row("drain-spread", target)?.detail?.createPerSec as number | undefined) ?? null;
  atLeast(`acknowledged creates per second, spread, ${cfg.drainConnections} connections: product ÷ ceiling`, ratioOf(createRate("product"), createRate("ceiling")), 0.4);
  const overload = row("overload", "product");
  if (overload) {
    const run = overload.detail?.run as OpenLoopResult | undefined;
    const v = overload.detail?.verify as ReturnType<typeof verifyExactlyOnce> | undefined;
    // From each request's due time, as a user sees it; the server's share (from going onto a connection) beside it.
    atMost(`overload at ${cfg.overload.rate === null ? "2× the sustained rate" : "the rate given"} (${fmt(overload.detail?.offeredPerSec as number)}/s offered): accepted p99 (server's share ${fmtMs(run?.acceptedFromSend.p99)} ms)`, run?.acceptedLatency.p99 ?? null, 250, "ms");
    atMost(`overload: rejected (503) p99, ${fmt(run?.rejected ?? 0)} rejected (server's share ${fmtMs(run?.rejectedFromSend.p99)} ms)`, run?.rejected ? run.rejectedLatency.p99 : null, 50, "ms");
    checks.push({ what: "overload: every rejection carries Retry-After", value: run?.rejected ? `${fmt(run.rejected - run.rejectedWithoutRetryAfter)} of ${fmt(run.rejected)}` : "none rejected", goal: "all", met: run?.rejected ? run.rejectedWithoutRetryAfter === 0 : null });
    const wrong = v ? v.missing + v.duplicateNumbers + v.storedTwice + v.wrongBody : null;
    checks.push({ what: "overload: every acknowledged create in MySQL exactly once, no duplicate number", value: wrong === null ? "—" : wrong === 0 ? "yes" : `${wrong} wrong`, goal: "yes", met: wrong === null ? null : wrong === 0 });
  }
  atLeast(`fanout at its maximum, ${cfg.fanoutMax.subscribers} subscribers of one chat: frames/s, product ÷ ceiling`, ratioOf(row("ws-fanout-max", "product")?.perSec, row("ws-fanout-max", "ceiling")?.perSec), 0.8);
  const e2e = "e2e-rest-to-ws-1000";
  if (rows.some((r) => r.scenario === e2e)) atMost("REST create → subscriber on another process at 1,000/s: p99, product ÷ ceiling", ratioOf(row(e2e, "product")?.latency?.p99, row(e2e, "ceiling")?.latency?.p99), 10);
  const shown = checks.filter((c) => c.value !== "—");
  if (!shown.length) return "";
  return [
    "### Issue 10's goals, from this run",
    "",
    "| figure | this run | goal | met |",
    "|---|---:|---:|---|",
    ...shown.map((c) => `| ${c.what} | ${c.value} | ${c.goal} | ${c.met === null ? "—" : c.met ? "yes" : "**no**"} |`),
  ].join("\n");
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
  // Product load time span, to cut startup (tsx compiling, connecting) out of the CPU profile.
  let loadWindow = null as Window | null;
  const settles: Record<string, unknown>[] = [];
  const profiles: { process: string; file: string; summary: ReturnType<typeof summarize> }[] = [];
  const healthNow = (): ({ target: TargetName } & ReturnType<Target["health"]>)[] => [...targets.values()].map((t) => ({ target: t.name, ...t.health() }));
  let healthAtEnd: ReturnType<typeof healthNow> | null = null;
  let fatal: unknown = null;
  let floors: Floor[] = [];
  try {
    log(`config ${JSON.stringify({ ...cfg, smoke, targets: targetNames, only: flags.only ?? null, profile: flags.profile })}`);
    if (targetNames.includes("ceiling")) targets.set("ceiling", await startCeiling({ spreadChats: cfg.spreadChats }, log));
    if (targetNames.includes("baseline")) targets.set("baseline", await startBaseline({ spreadChats: cfg.spreadChats, seedMessages: cfg.seedMessages }, log));
    for (const name of ["product", "product-nodelay", "product-cluster"] as const) {
      if (!targetNames.includes(name)) continue;
      const p = await startProduct(
        {
          spreadChats: cfg.spreadChats,
          seedMessages: cfg.seedMessages,
          profileDir: products.length === 0 ? profileDir : undefined,
          forceNoDelay: name === "product-nodelay",
          redisCluster: name === "product-cluster",
          settlePollMs: smoke ? 100 : 250,
        },
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
        let row: Row;
        try {
          row = { scenario: scenario.id, target: name, ...(await scenario.run(target)) };
        } catch (err) {
          row = { scenario: scenario.id, target: name, status: "failed", note: err instanceof Error ? err.message : String(err), perSec: null, latency: null, ok: 0, non2xx: 0, errors: 0 };
        }
        rows.push(row);
        // Let this product's worker and indexer finish before anything else runs, so a
        // backlog never takes CPU from the next run (the next target, or the next scenario).
        const settled = await target.settle(cfg.settleTimeoutMs);
        // Up to the settle, so the profile keeps the worker's share of the run.
        if (name !== "baseline" && name !== "ceiling") loadWindow = { startUs: loadWindow?.startUs ?? startUs, endUs: monotonicUs() };
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
      const product = products[0]!;
      const { api, worker } = product.pids();
      // Health as it was at the end of the runs: the profiled processes are stopped on purpose.
      healthAtEnd = healthNow();
      await product.stopProfiled();
      const files = readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile"));
      for (const [name, pid] of [["API process A", api[0]], ["worker", worker[0]]] as const) {
        // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's loader hooks run in another).
        const file = files.find((f) => new RegExp(`^CPU\\.\\d+\\.\\d+\\.${pid}\\.0\\.\\d+\\.cpuprofile$`).test(f));
        if (!file) throw new Error(`no .cpuprofile of the ${name} (pid ${pid}) in ${profileDir}`);
        profiles.push({ process: name, file: join(profileDir, file), summary: summarize(JSON.parse(readFileSync(join(profileDir, file), "utf8")) as CpuProfile, 10, loadWindow) });
      }
    }
  } catch (err) {
    fatal = err;
    throw err;
  } finally {
    const health = healthAtEnd ?? healthNow();
    await stopAll();
    addRatios(rows);
    const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "?", memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}` };
    const report = { startedAt: new Date(started).toISOString(), wallS: (Date.now() - started) / 1000, machine, config: { ...cfg, smoke, targets: targetNames }, rows, floors, settles, health, profiles };
    const name = `${smoke ? "smoke" : flags.profile ? "profile" : "bench"}-${stamp}.json`;
    writeFileSync(join(outDir, name), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(outDir, smoke ? "latest-smoke.json" : "latest.json"), `${JSON.stringify(report, null, 2)}\n`);

    process.stdout.write(`\n## Results (${machine.cpus} cores, ${machine.memGiB} GiB, Node ${machine.node}; ${smoke ? "SMOKE: tiny durations, figures meaningless" : `${cfg.durationS} s per run`})\n\n`);
    process.stdout.write(`${table(rows)}\n\n`);
    for (const s of selected) process.stdout.write(`- ${s.id}: ${s.title}\n`);
    if (floors.length) {
      process.stdout.write("\n### Backend round trips, one at a time (the floor under every create)\n\n| round trip | p50 ms | p99 ms | what |\n|---|---:|---:|---|\n");
      for (const f of floors) process.stdout.write(`| ${f.name} | ${fmtMs(f.latency.p50)} | ${fmtMs(f.latency.p99)} | ${f.what} |\n`);
    }
    const problems = health.flatMap((h) => h.problems);
    if (problems.length) {
      process.stdout.write(`\n### Logged by the servers (${problems.length} lines, first 20)\n\n`);
      for (const p of problems.slice(0, 20)) process.stdout.write(`- ${p}\n`);
    }
    const cpuText = cpuTables(rows);
    if (cpuText) process.stdout.write(`\n${cpuText}\n`);
    const goals = issueRatios(rows);
    if (goals) process.stdout.write(`\n${goals}\n`);
    for (const p of profiles) process.stdout.write(`\n### CPU profile of the ${p.process} (self time; ${p.file})\n\n${formatSummary(p.summary)}\n`);
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
