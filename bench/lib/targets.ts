import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import amqp from "amqplib";
import mysql, { type Connection, type RowDataPacket } from "mysql2/promise";
import { migrate } from "../../src/adapters/mysql/migrate.js";
import { loadConfig } from "../../src/config.js";
import { cleanupRun } from "../../test/support/cleanup.js";
import { isolatedEnv, services } from "../../test/support/env.js";
import { runCli, spawnCli, type Proc } from "../../test/support/processes.js";
import { COMPONENTS, type Component } from "./cpu.js";
import { repoRoot, spawnNode, type NodeProc } from "./procs.js";

/**
 * product-nodelay: the product with TCP_NODELAY forced on every socket (bench/lib/nodelay-preload.mjs), an experiment.
 * product-cluster: the product on the local Redis Cluster (scripts/services.sh cluster up) instead of one Redis.
 */
export type TargetName = "baseline" | "ceiling" | "product" | "product-nodelay" | "product-cluster";

/** Chats every target has: 1 is the hot chat, 1..spread the spread set, then one for drain and a few for e2e. */
export interface ChatLayout {
  hot: number;
  spread: number;
  drain: number;
  e2e: number[];
  total: number;
}

export const E2E_CHATS = 10;

export const chatLayout = (spread: number): ChatLayout => ({
  hot: 1,
  spread,
  drain: spread + 1,
  e2e: Array.from({ length: E2E_CHATS }, (_, i) => spread + 2 + i),
  total: spread + 1 + E2E_CHATS,
});

export interface Target {
  name: TargetName;
  origin: string;
  /** WebSocket URL of the process that takes creates, and of a second process for subscribers. */
  wsUrl: string;
  wsUrlOther: string;
  app: string;
  chats: ChatLayout;
  /**
   * Durable rows (null: the target has no database). Each target's database
   * holds only the bench's application, and rows inserted after a point are
   * found by primary key: ids only grow, and the queues are settled first.
   */
  maxMessageId(): Promise<number | null>;
  countMessagesAfter(id: number): Promise<number | null>;
  /** Every message row with a larger id. */
  messagesAfter(id: number): Promise<StoredMessage[] | null>;
  maxNumber(chat: number): Promise<number>;
  /**
   * Search index (null: the target has none). `indexed` counts the index
   * operations the alias took so far: it grows when a bulk is applied, not
   * when a refresh makes it searchable, so it tells when every write is in
   * without forcing refreshes. `documents` refreshes, then counts.
   */
  indexed(): Promise<number | null>;
  documents(): Promise<number | null>;
  /** The processes serving this target, for CPU accounting (bench/lib/cpu.ts). */
  pids(): { api: number[]; worker: number[] };
  /** What its creates use: the other components' CPU is unrelated load, not part of its total. */
  involves: readonly Component[];
  /** Waits until the target has no write backlog; resolves with what it saw. */
  settle(timeoutMs: number): Promise<{ settled: boolean; ms: number; backlog: number }>;
  /** Processes still alive, and anything notable they logged (errors, warnings). */
  health(): { alive: boolean; problems: string[] };
  /** The ports of the Redis servers its creates use, for CPU accounting (default: the one shared Redis). */
  redisPorts?: readonly number[];
  stop(): Promise<void>;
}

const MAX_NUMBER_SQL =
  "SELECT MAX(m.number) AS n FROM messages m JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id WHERE a.token = ? AND c.number = ?";

export interface StoredMessage {
  chat: number;
  number: number;
  body: string;
}

/** The durable-row queries of a target's own database. */
function rowQueries(conn: Connection, app: string): Pick<Target, "maxMessageId" | "countMessagesAfter" | "messagesAfter" | "maxNumber"> {
  return {
    async maxMessageId() {
      const [rows] = await conn.query<RowDataPacket[]>("SELECT COALESCE(MAX(id), 0) AS id FROM messages");
      return Number(rows[0]!.id);
    },
    async countMessagesAfter(id) {
      const [rows] = await conn.execute<RowDataPacket[]>("SELECT COUNT(*) AS n FROM messages WHERE id > ?", [id]);
      return Number(rows[0]!.n);
    },
    async messagesAfter(id) {
      const [rows] = await conn.execute<RowDataPacket[]>("SELECT c.number AS chat, m.number, m.body FROM messages m JOIN chats c ON c.id = m.chat_id WHERE m.id > ?", [id]);
      return rows.map((r) => ({ chat: Number(r.chat), number: Number(r.number), body: String(r.body) }));
    },
    async maxNumber(chat) {
      const [rows] = await conn.execute<RowDataPacket[]>(MAX_NUMBER_SQL, [app, chat]);
      return Number(rows[0]!.n ?? 0);
    },
  };
}

const noSearch: Pick<Target, "indexed" | "documents"> = { indexed: async () => null, documents: async () => null };

/** The search-index counts of the product's alias (see Target.indexed). */
function searchCounts(node: string, alias: string): Pick<Target, "indexed" | "documents"> {
  const get = async (path: string, init?: RequestInit): Promise<any> => {
    const res = await fetch(`${node}/${alias}/${path}`, init);
    if (!res.ok) throw new Error(`elasticsearch ${path} → ${res.status} ${await res.text()}`);
    return res.json();
  };
  return {
    async indexed() {
      const stats = await get("_stats/indexing");
      return Number(stats._all.primaries.indexing.index_total);
    },
    async documents() {
      await get("_refresh", { method: "POST" });
      return Number((await get("_count")).count);
    },
  };
}

const pidsOf = (...procs: { child: { pid?: number | undefined } }[]): number[] => procs.flatMap((p) => (p.child.pid ? [p.child.pid] : []));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs fn over items with at most `limit` in flight. */
export async function parallel<T>(limit: number, items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

/** POST JSON, retrying 503 (the sequencer's first-start fence, a slow confirm) until 2xx, under one
 * Idempotency-Key, so a retry of a create that was numbered before its 503 creates nothing more. */
export async function postUntilCreated(url: string, body: unknown, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  const headers = { "content-type": "application/json", "idempotency-key": randomBytes(12).toString("base64url") };
  for (;;) {
    const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 200 && res.status < 300) return JSON.parse(text);
    if (res.status !== 503 || Date.now() > deadline) throw new Error(`POST ${new URL(url).pathname.replace(/applications\/[^/]+/, "applications/…")} → ${res.status} ${text}`);
    await sleep(100);
  }
}

async function seedMessages(origin: string, app: string, chat: number, count: number): Promise<void> {
  await parallel(20, Array.from({ length: count }, (_, i) => i), (i) =>
    postUntilCreated(`${origin}/api/v1/applications/${app}/chats/${chat}/messages`, { body: `seed message ${i + 1}` }).then(() => undefined),
  );
}

function problemsIn(name: string, output: string): string[] {
  const problems: string[] = [];
  for (const line of output.split("\n")) {
    if (line.trim() === "") continue;
    // pino lines: warn (40) and above; anything else on stdout/stderr (stack traces, node warnings) too.
    const level = line.startsWith("{") ? Number(/"level":(\d+)/.exec(line)?.[1] ?? 0) : 100;
    if (level >= 40) problems.push(`${name}: ${line.slice(0, 600)}`);
  }
  return problems;
}

// --- product (cluster mode)

export interface ProductOptions {
  spreadChats: number;
  seedMessages: number;
  /** Write V8 CPU profiles of API process A and of the worker into this directory. */
  profileDir?: string;
  /** The experiment: TCP_NODELAY on every socket of every product process. */
  forceNoDelay?: boolean;
  /** How often settle() polls the queues and the row count (default 250 ms; the smoke polls faster to stay quick). */
  settlePollMs?: number;
  /** On the local Redis Cluster (REDIS_CLUSTER_NODES) instead of one Redis server. */
  redisCluster?: boolean;
}

/**
 * The product's processes refuse to start without Elasticsearch, and other
 * engineers' test runs restart it on this machine: wait for it, and start it
 * (scripts/services.sh up) if it stays down.
 */
export async function waitForElasticsearch(url: string, log: (line: string) => void, timeoutMs = 180_000): Promise<void> {
  const up = async (): Promise<boolean> => {
    try {
      const res = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`, { signal: AbortSignal.timeout(3000) });
      return res.ok;
    } catch {
      return false;
    }
  };
  if (await up()) return;
  const deadline = Date.now() + timeoutMs;
  let started = false;
  log(`elasticsearch at ${url} is down; waiting`);
  while (Date.now() < deadline) {
    await sleep(2000);
    if (await up()) return log("elasticsearch is up");
    if (!started && Date.now() > deadline - timeoutMs + 10_000) {
      started = true;
      log("elasticsearch still down: running scripts/services.sh up");
      const r = await runScript("bash", ["scripts/services.sh", "up"]);
      log(`services.sh up exited ${r.code}: ${r.output.trim().split("\n").slice(-2).join(" / ")}`);
    }
  }
  throw new Error(`elasticsearch at ${url} did not come up within ${timeoutMs} ms`);
}

function runScript(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("exit", (code) => resolve({ code, output }));
  });
}

/** The local Redis Cluster's nodes, primaries and replicas (scripts/services.sh cluster up). */
const CLUSTER_REDIS_PORTS: readonly number[] = [7000, 7001, 7002, 7003, 7004, 7005];

export async function startProduct(opts: ProductOptions, log: (line: string) => void): Promise<Target & { env: Record<string, string>; stopProfiled(): Promise<void> }> {
  const name: TargetName = opts.forceNoDelay ? "product-nodelay" : opts.redisCluster ? "product-cluster" : "product";
  // PUBLISH_TIMEOUT_MS as the product would read it from this environment (by default its
  // default), not isolatedEnv's short test value: a shorter timeout turns slow confirms under
  // overload into 503s for creates that were stored all the same.
  const env = isolatedEnv(opts.forceNoDelay ? "benchnd" : opts.redisCluster ? "benchrc" : "bench", {
    PUBLISH_TIMEOUT_MS: String(loadConfig(process.env).publishTimeoutMs),
    CREATES_PER_SECOND_PER_TOKEN: "10000000",
    WS_SENDS_PER_SECOND: "1000000",
    WS_MAX_SUBSCRIPTIONS: "10000",
    LOG_LEVEL: "warn",
    ...(opts.forceNoDelay ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${join(repoRoot, "bench/lib/nodelay-preload.mjs")}`.trim() } : {}),
    ...(opts.redisCluster ? { REDIS_URL: "", REDIS_CLUSTER_NODES: services.redisCluster } : {}),
  });
  const procs: (Proc | NodeProc)[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop().catch(() => undefined)));
  };
  let db: Connection | null = null;
  try {
    await waitForElasticsearch(env.ELASTICSEARCH_URL!, log);
    const migrated = await runCli(["migrate"], env);
    if (migrated.code !== 0) throw new Error(`migrate failed (${migrated.code}):\n${migrated.output}`);
    // Profiled processes write CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile on exit.
    const profiled = (command: "serve" | "worker", name: string, ready: RegExp): Promise<Proc | NodeProc> =>
      opts.profileDir
        ? spawnNode(name, "src/cli.ts", { args: [command], nodeArgs: ["--cpu-prof", "--cpu-prof-dir", opts.profileDir], env: { ...env, LOG_LEVEL: "info" }, ready })
        : spawnCli(command, env);
    const apiA = await profiled("serve", "api-A", /API listening/);
    procs.push(apiA);
    const apiB = await spawnCli("serve", env);
    procs.push(apiB);
    const worker = await profiled("worker", "worker", /worker started/);
    procs.push(worker);
    const origin = `http://127.0.0.1:${apiA.port}`;
    log(`${name}: api A :${apiA.port}, api B :${apiB.port}, worker pid ${worker.child.pid}, db ${new URL(env.MYSQL_URL!).pathname.slice(1)}`);

    const application = await postUntilCreated(`${origin}/api/v1/applications`, { name: "bench" });
    const app = application.token as string;
    const chats = chatLayout(opts.spreadChats);
    // The first create after a fresh Redis prefix waits out the sequencer fence.
    await postUntilCreated(`${origin}/api/v1/applications/${app}/chats`, { name: "chat 1" });
    await parallel(50, Array.from({ length: chats.total - 1 }, (_, i) => i + 2), (n) =>
      postUntilCreated(`${origin}/api/v1/applications/${app}/chats`, { name: `chat ${n}` }).then((c) => {
        if (c.number > chats.total) throw new Error(`unexpected chat number ${c.number}`);
      }),
    );
    await seedMessages(origin, app, chats.hot, opts.seedMessages);
    db = await mysql.createConnection(env.MYSQL_URL!);
    const conn = db;
    const amqpConn = await amqp.connect(env.AMQP_URL!);
    const channel = await amqpConn.createChannel();
    const queueDepth = async (): Promise<number> => {
      let depth = 0;
      for (const q of [env.QUEUE_NAME!, `${env.QUEUE_NAME}.index`]) depth += (await channel.checkQueue(q)).messageCount;
      return depth;
    };
    const totalMessages = async (): Promise<number> => {
      const [rows] = await conn.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM messages");
      return Number(rows[0]!.n);
    };
    const all = [apiA, apiB, worker];
    return {
      name,
      env,
      origin,
      wsUrl: `ws://127.0.0.1:${apiA.port}/ws`,
      wsUrlOther: `ws://127.0.0.1:${apiB.port}/ws`,
      app,
      chats,
      ...rowQueries(conn, app),
      ...searchCounts(env.ELASTICSEARCH_URL!, env.SEARCH_ALIAS!),
      pids: () => ({ api: pidsOf(apiA, apiB), worker: pidsOf(worker) }),
      involves: COMPONENTS,
      // Every node of the local cluster, replicas too: they apply each write again.
      ...(opts.redisCluster ? { redisPorts: CLUSTER_REDIS_PORTS } : {}),
      async settle(timeoutMs) {
        // Settled: both queues (writes, index) empty and the row count unchanged for two polls.
        const started = Date.now();
        let last = -1;
        let stable = 0;
        let backlog = 0;
        while (Date.now() - started < timeoutMs) {
          backlog = await queueDepth();
          const count = await totalMessages();
          stable = backlog === 0 && count === last ? stable + 1 : 0;
          last = count;
          if (stable >= 2) return { settled: true, ms: Date.now() - started, backlog: 0 };
          await sleep(opts.settlePollMs ?? 250);
        }
        return { settled: false, ms: Date.now() - started, backlog };
      },
      health() {
        const problems = [
          ...problemsIn("api-A", apiA.output()),
          ...problemsIn("api-B", apiB.output()),
          ...problemsIn("worker", worker.output()),
        ];
        for (const [name, p] of [["api-A", apiA], ["api-B", apiB], ["worker", worker]] as const) {
          if (p.child.exitCode !== null || p.child.signalCode !== null) problems.push(`${name} exited (${p.child.exitCode ?? p.child.signalCode})`);
        }
        return { alive: all.every((p) => p.child.exitCode === null && p.child.signalCode === null), problems };
      },
      async stopProfiled() {
        await Promise.all([apiA.stop("SIGTERM"), worker.stop("SIGTERM")]);
      },
      async stop() {
        await amqpConn.close().catch(() => undefined);
        await conn.end().catch(() => undefined);
        await stopAll();
        await cleanupRun(env).catch((err: unknown) => log(`product cleanup failed: ${String(err)}`));
      },
    };
  } catch (err) {
    await db?.end().catch(() => undefined);
    await stopAll();
    await cleanupRun(env).catch(() => undefined);
    throw err;
  }
}

// --- baseline (write-through)

export async function startBaseline(opts: { spreadChats: number; seedMessages: number; pool?: number }, log: (line: string) => void): Promise<Target> {
  const database = `bench_base_${randomBytes(4).toString("hex")}`;
  const url = new URL(`${services.mysql}/${database}`);
  const dropDb = async (): Promise<void> => {
    const server = new URL(url);
    server.pathname = "/";
    const admin = await mysql.createConnection(server.toString());
    await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await admin.end();
  };
  let proc: NodeProc | null = null;
  let conn: Connection | null = null;
  try {
    await migrate(url, join(repoRoot, "sql"));
    conn = await mysql.createConnection({ uri: url.toString(), timezone: "Z" });
    const app = randomBytes(16).toString("base64url");
    const chats = chatLayout(opts.spreadChats);
    const now = new Date();
    const [inserted] = await conn.execute<mysql.ResultSetHeader>(
      "INSERT INTO applications (token, name, chats_count, created_at, updated_at) VALUES (?, 'bench', ?, ?, ?)",
      [app, chats.total, now, now],
    );
    const rows = Array.from({ length: chats.total }, (_, i) => [inserted.insertId, i + 1, `chat ${i + 1}`, 0, now, now]);
    await conn.query("INSERT INTO chats (application_id, number, name, messages_count, created_at, updated_at) VALUES ?", [rows]);
    proc = await spawnNode("baseline", "bench/baseline/server.ts", {
      env: { BASELINE_MYSQL_URL: url.toString(), PORT: "0", HOST: "127.0.0.1", BASELINE_POOL: String(opts.pool ?? 20) },
    });
    const origin = `http://127.0.0.1:${proc.port}`;
    log(`baseline: :${proc.port}, db ${database}, pool ${opts.pool ?? 20}`);
    await seedMessages(origin, app, chats.hot, opts.seedMessages);
    const c = conn;
    const p = proc;
    return {
      name: "baseline",
      origin,
      wsUrl: "",
      wsUrlOther: "",
      app,
      chats,
      ...rowQueries(c, app),
      ...noSearch,
      pids: () => ({ api: pidsOf(p), worker: [] }),
      involves: ["api", "mariadb", "loadgen"],
      async settle() {
        return { settled: true, ms: 0, backlog: 0 };
      },
      health() {
        const alive = p.child.exitCode === null && p.child.signalCode === null;
        const problems = p
          .output()
          .split("\n")
          .filter((l) => /request failed|Error/.test(l))
          .map((l) => `baseline: ${l.slice(0, 600)}`);
        if (!alive) problems.push(`baseline exited (${p.child.exitCode ?? p.child.signalCode})`);
        return { alive, problems };
      },
      async stop() {
        await c.end().catch(() => undefined);
        await p.stop();
        await dropDb().catch((err: unknown) => log(`baseline cleanup failed: ${String(err)}`));
      },
    };
  } catch (err) {
    await conn?.end().catch(() => undefined);
    await proc?.stop();
    await dropDb().catch(() => undefined);
    throw err;
  }
}

// --- ceiling (uWS, no backend)

export async function startCeiling(opts: { spreadChats: number }, log: (line: string) => void): Promise<Target> {
  const proc = await spawnNode("ceiling", "bench/ceiling/server.ts", { env: { PORT: "0", HOST: "127.0.0.1" } });
  log(`ceiling: :${proc.port}`);
  const origin = `http://127.0.0.1:${proc.port}`;
  return {
    name: "ceiling",
    origin,
    wsUrl: `ws://127.0.0.1:${proc.port}/ws`,
    wsUrlOther: `ws://127.0.0.1:${proc.port}/ws`,
    app: randomBytes(16).toString("base64url"),
    chats: chatLayout(opts.spreadChats),
    maxMessageId: async () => null,
    countMessagesAfter: async () => null,
    messagesAfter: async () => null,
    maxNumber: async () => 1000,
    ...noSearch,
    pids: () => ({ api: pidsOf(proc), worker: [] }),
    involves: ["api", "loadgen"],
    settle: async () => ({ settled: true, ms: 0, backlog: 0 }),
    health() {
      const alive = proc.child.exitCode === null && proc.child.signalCode === null;
      return { alive, problems: alive ? [] : [`ceiling exited (${proc.child.exitCode ?? proc.child.signalCode})`] };
    },
    stop: () => proc.stop(),
  };
}
