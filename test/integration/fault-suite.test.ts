import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import { cleanupRun, deleteRedisPrefix } from "../support/cleanup.js";
import { CreateLoad, type CreateResult } from "../support/create-load.js";
import { eventually, isolatedEnv, services } from "../support/env.js";
import { Api } from "../support/http.js";
import { spawnCli, spawnCluster, type Proc } from "../support/processes.js";
import { elasticsearchPid, Frozen, killPubsubClientsOf, mariadbPid, pubsubClientsOf, RabbitStopped } from "../support/service-faults.js";
import { WsClient, type Protocol } from "../support/ws-client.js";

// The fault suite: the real cluster (two `serve` processes and a worker on one
// isolated env) against the real shared services, with a steady open-loop
// create load over REST on API process A and live WebSocket subscribers on API
// process B (subscribed with since: 0, never resubscribing). Each fault is
// injected mid-load, in turn, and undone; each is its own test, so one fault
// that breaks a guarantee does not hide the others. After each:
//   - every acknowledged (201) message is in MySQL, once, with its own body;
//     no number was acknowledged twice and no body is stored twice;
//   - every subscriber got every acknowledged number exactly once, in
//     increasing order per chat, without resubscribing.
// Completeness of live delivery is decided without a timing threshold: after
// the load, one marker message per chat is created through the same process;
// numbers of a chat reach a subscriber in order, so once the marker arrived,
// a number not delivered before it never will be.

const RATE = 300; // creates per second over REST, open loop
const CHATS = [1, 2, 3, 4];
const WARM_UP_ACKS = 300; // acknowledged creates before a fault is injected
const RECOVERED_ACKS = 300; // acknowledged creates, sent after the fault was undone, before the load stops
const FREEZE_MS = 10_000; // how long MariaDB and Elasticsearch are frozen (the fault's definition)
const REDIS_PORT = Number(new URL(services.redis).port || 6379);
const CLOCK_SKEW_MS = -30_000; // fault 6b: the worker's host clock runs this far from the APIs'
/** Fault 6b: how long numbering may take to recover (it takes ~PUBLISH_TIMEOUT_MS + 1 s when it works). */
const RECOVERY_DEADLINE_MS = 20_000;
/** Fault 6c: how long the worker stays frozen, Redis losing its keys early in that time. */
const WORKER_FREEZE_MS = 8_000;
const clockSkewPreload = fileURLToPath(new URL("../support/clock-skew.mjs", import.meta.url));

interface Row {
  fault: string;
  acked: number;
  s503: number;
  other: number;
  /** Send times of the first to the last failed create sent after the fault was injected. */
  unavailableMs: number;
  /** Fault injected → the first 201 to a create sent after the last failure. */
  backAfterMs: number | null;
  maxAckLatencyMs: number;
  lost: number;
  duplicates: number;
  liveMissed: number;
  liveDuplicates: number;
  liveOutOfOrder: number;
}

/** "3-7, 9, 12-15" */
function ranges(numbers: number[]): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(", ");
}

const pad = (v: unknown, n: number): string => String(v).padStart(n);

/**
 * One live subscriber: a socket subscribed to every chat with since: 0. It
 * never resubscribes, except after its server died (fault 8), when it
 * reconnects and resumes each chat with since = its last delivered number.
 * Deliveries are the concatenation over its sockets, in arrival order.
 */
class Subscriber {
  private readonly clients: WsClient[] = [];
  /** Closes nobody asked for (a live subscriber must stay connected). */
  readonly unexpectedCloses: { code: number; reason: string }[] = [];
  private expectClose = false;

  constructor(
    readonly name: string,
    private readonly protocol: Protocol | null,
    private readonly token: string,
  ) {}

  get client(): WsClient {
    return this.clients[this.clients.length - 1]!;
  }

  /** Connects and subscribes to `chats`, each from `since(chat)`; resolves once every one is live. */
  async connect(url: string, chats: number[], since: (chat: number) => number): Promise<number[]> {
    const client = await WsClient.connect(url, this.protocol);
    this.clients.push(client);
    this.expectClose = false;
    void client.closed.then((c) => {
      if (!this.expectClose) this.unexpectedCloses.push(c);
    });
    const replayed: number[] = [];
    for (const chat of chats) {
      const reply = await client.request({ op: "subscribe", app: this.token, chat, since: since(chat) }, 60_000);
      assert.equal(reply.op, "subscribed", JSON.stringify(reply));
      replayed.push(reply.replayed as number);
    }
    return replayed;
  }

  /** The next close of the current socket is expected (its server is being killed). */
  expectingClose(): Promise<{ code: number; reason: string }> {
    this.expectClose = true;
    return this.client.closed;
  }

  numbers(chat: number): number[] {
    return this.clients.flatMap((c) => c.numbers(this.token, chat));
  }
  count(chat: number): number {
    return this.clients.reduce((n, c) => n + c.count(this.token, chat), 0);
  }
  has(chat: number, n: number): boolean {
    return this.clients.some((c) => c.has(this.token, chat, n));
  }
  last(chat: number): number {
    const all = this.numbers(chat);
    return all.length ? all[all.length - 1]! : 0;
  }
  /** Resolves when `check` holds, re-checked on every frame of the current socket. */
  until<T>(check: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    return this.client.until(check, timeoutMs, what);
  }
  close(): Promise<void> {
    this.expectClose = true;
    return this.client.close();
  }
}

describe("fault suite: a steady create load on A, live subscribers on B, one fault at a time (real services)", () => {
  const env = isolatedEnv("fsuite", { PUBLISH_TIMEOUT_MS: "1000", WS_SENDS_PER_SECOND: "100000" });
  let servers: Proc[] = [];
  let worker: Proc;
  let apiA: Proc; // takes the create load (replaced by a new process in fault 7)
  let apiB: Proc; // holds the subscribers
  let token: string;
  let db: mysql.Connection;
  let redis: Redis;
  const subscribers: Subscriber[] = [];
  const table: Row[] = [];
  /** Every number acknowledged so far, per chat, with its body. */
  const acknowledged = new Map<number, Map<number, string>>(CHATS.map((c) => [c, new Map()]));
  /** Undo actions of faults in progress: run by `after` if a test left one behind. */
  const pendingRestores = new Set<() => Promise<void> | void>();
  const suiteStarted = performance.now();

  const origin = (p: Proc): string => `http://127.0.0.1:${p.port}`;

  before(async () => {
    ({ servers, worker } = await spawnCluster(env, 2));
    [apiA, apiB] = servers as [Proc, Proc];
    const a = new Api(origin(apiA));
    token = (await a.post("/api/v1/applications", { name: "fault suite" })).json.token;
    for (const chat of CHATS) {
      const res = await a.postReady(`/api/v1/applications/${token}/chats`, {});
      assert.equal(res.status, 201, JSON.stringify(res.json));
      assert.equal(res.json.number, chat);
    }
    for (const [name, protocol] of [
      ["json", null],
      ["msgpack", "chat.v1.msgpack"],
    ] as const) {
      const sub = new Subscriber(name, protocol, token);
      subscribers.push(sub);
      assert.deepEqual(await sub.connect(`ws://127.0.0.1:${apiB.port}/ws`, CHATS, () => 0), CHATS.map(() => 0));
    }
    db = await mysql.createConnection(env.MYSQL_URL!);
    redis = new Redis(env.REDIS_URL!);
  });

  after(async () => {
    for (const restore of [...pendingRestores]) await Promise.resolve(restore()).catch((err: unknown) => console.log(`restore failed: ${String(err)}`));
    printTable();
    console.log(`fault suite wall time ${((performance.now() - suiteStarted) / 1000).toFixed(1)} s`);
    await Promise.all(subscribers.map((s) => s.close().catch(() => undefined)));
    await Promise.all([...servers, apiA, apiB, worker].map((p) => p?.stop("SIGKILL")));
    await db?.end();
    redis?.disconnect();
    await cleanupRun(env);
  });

  function printTable(): void {
    const head = ["fault", "acked", "503s", "other", "unavail ms", "back after ms", "max 201 ms", "lost", "dups", "live missed", "live dups", "live order"];
    const widths = [40, 6, 5, 6, 10, 13, 10, 5, 5, 11, 9, 10];
    const line = (cells: unknown[]): string => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : pad(c, widths[i]!))).join(" | ");
    console.log(line(head));
    for (const r of table) {
      console.log(line([r.fault, r.acked, r.s503, r.other, Math.round(r.unavailableMs), r.backAfterMs === null ? "-" : Math.round(r.backAfterMs), Math.round(r.maxAckLatencyMs), r.lost, r.duplicates, r.liveMissed, r.liveDuplicates, r.liveOutOfOrder]));
    }
  }

  /** Creates one message per chat through A, retrying while it answers 503; they mark the end of a phase. */
  async function markers(label: string): Promise<Map<number, { number: number; body: string }>> {
    const api = new Api(origin(apiA));
    const out = new Map<number, { number: number; body: string }>();
    for (const chat of CHATS) {
      const body = `${label} marker ${chat}`;
      const number = await eventually(async () => {
        const res = await api.post(`/api/v1/applications/${token}/chats/${chat}/messages`, { body });
        return res.status === 201 ? (res.json.number as number) : undefined;
      }, 30_000, `the marker of chat ${chat} to be acknowledged`);
      out.set(chat, { number, body });
    }
    return out;
  }

  interface MessageRow {
    chat: number;
    number: number;
    body: string;
  }

  /** This app's rows that a phase can touch: numbers from `fromNumber` on, and any row with the phase's label. */
  async function phaseRows(label: string, fromNumber: number): Promise<MessageRow[]> {
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      `SELECT c.number AS chat, m.number, m.body FROM messages m JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id
       WHERE a.token = ? AND (m.number >= ? OR m.body LIKE ?)`,
      [token, fromNumber, `${label} %`],
    );
    return rows.map((r) => ({ chat: Number(r.chat), number: Number(r.number), body: String(r.body) }));
  }

  /**
   * One phase: start the load on A, wait until it is acknowledged steadily,
   * inject the fault (`inject` also undoes it), wait until creates sent after
   * that are acknowledged again, stop the load, then check and record a row.
   * Returns the problems found (empty when every guarantee held).
   */
  async function phase(fault: string, label: string, inject: (load: CreateLoad, faultAt: number) => Promise<string[] | void>): Promise<{ problems: string[]; results: CreateResult[]; row: Row }> {
    const startCounts = subscribers.map((s) => new Map(CHATS.map((c) => [c, s.count(c)])));
    const closesBefore = subscribers.map((s) => s.unexpectedCloses.length);
    const load = new CreateLoad({ origin: origin(apiA), token, chats: CHATS, rate: RATE, maxCreates: RATE * 90, maxMs: 90_000, label });
    let faultAt = 0;
    const problems: string[] = [];
    try {
      await load.until(() => load.ackedSince(0) >= WARM_UP_ACKS, 30_000, "the load to be acknowledged before the fault");
      faultAt = performance.now();
      problems.push(...((await inject(load, faultAt)) ?? []));
      const restoredAt = performance.now();
      await load.until(() => load.ackedSince(restoredAt) >= RECOVERED_ACKS, 60_000, "creates sent after the fault was undone to be acknowledged");
    } catch (err) {
      // The phase could not run to its end (a fault did not take or did not go away): log it, fail the test.
      await load.stop();
      console.log(`${fault}: phase aborted (${load.summary()}): ${String(err)}`);
      throw err;
    }
    const results = await load.stop();

    // --- what the client saw
    const failed = results.filter((r) => r.status !== 201);
    const acks = results.filter((r) => r.status === 201);
    const afterFault = failed.filter((r) => r.sentAt >= faultAt);
    const unavailableMs = afterFault.length ? Math.max(...afterFault.map((r) => r.sentAt)) - Math.min(...afterFault.map((r) => r.sentAt)) : 0;
    const lastFailure = afterFault.length ? Math.max(...afterFault.map((r) => r.sentAt)) : faultAt;
    const firstBack = acks.filter((r) => r.sentAt > lastFailure).sort((x, y) => x.doneAt - y.doneAt)[0];
    const unexpected = failed.filter((r) => r.status !== 503 && r.status !== null);
    if (unexpected.length) problems.push(`unexpected answers: ${JSON.stringify(unexpected.slice(0, 5).map((r) => [r.status, r.error]))}`);
    const noNumber = acks.filter((r) => r.number === undefined);
    if (noNumber.length) problems.push(`${noNumber.length} 201s without a number`);

    // --- markers, then the acknowledged set of this phase
    const marks = await markers(label);
    const phaseAcked = new Map<number, { number: number; body: string }[]>(CHATS.map((c) => [c, []]));
    for (const r of acks) if (r.number !== undefined) phaseAcked.get(r.chat)!.push({ number: r.number, body: r.body });
    for (const [chat, m] of marks) phaseAcked.get(chat)!.push(m);

    // No number acknowledged twice: within the phase, and against every earlier phase.
    let duplicates = 0;
    const ackDuplicates: string[] = [];
    for (const [chat, list] of phaseAcked) {
      const known = acknowledged.get(chat)!;
      for (const { number, body } of list) {
        if (known.has(number)) {
          duplicates++;
          ackDuplicates.push(`chat ${chat} #${number} acknowledged for "${known.get(number)}" and "${body}"`);
        } else known.set(number, body);
      }
    }
    if (ackDuplicates.length) problems.push(`numbers acknowledged twice: ${ackDuplicates.slice(0, 10).join("; ")}`);

    // --- MySQL: every acknowledged message once, under its number, with its body
    const allAcked = [...phaseAcked].flatMap(([chat, list]) => list.map((m) => ({ chat, ...m })));
    const fromNumber = Math.min(...allAcked.map((m) => m.number));
    let rows: MessageRow[] = [];
    await eventually(async () => {
      rows = await phaseRows(label, fromNumber);
      const present = new Set(rows.map((r) => `${r.chat}:${r.number}`));
      return allAcked.every((m) => present.has(`${m.chat}:${m.number}`));
    }, 60_000, "every acknowledged message of the phase in MySQL").catch(() => undefined);
    const byKey = new Map<string, MessageRow[]>();
    const byBody = new Map<string, MessageRow[]>();
    for (const r of rows) {
      const k = `${r.chat}:${r.number}`;
      byKey.set(k, [...(byKey.get(k) ?? []), r]);
      if (r.body.startsWith(`${label} `)) byBody.set(r.body, [...(byBody.get(r.body) ?? []), r]);
    }
    const missingRows = allAcked.filter((m) => !byKey.has(`${m.chat}:${m.number}`));
    const wrongBody = allAcked.filter((m) => byKey.get(`${m.chat}:${m.number}`)?.some((r) => r.body !== m.body));
    const lost = missingRows.length + wrongBody.length;
    if (missingRows.length) problems.push(`${missingRows.length} acknowledged messages not in MySQL: ${CHATS.map((c) => `chat ${c}: ${ranges(missingRows.filter((m) => m.chat === c).map((m) => m.number))}`).join("; ")}`);
    if (wrongBody.length) problems.push(`${wrongBody.length} acknowledged numbers hold another body in MySQL: ${JSON.stringify(wrongBody.slice(0, 5).map((m) => [m.chat, m.number, m.body, byKey.get(`${m.chat}:${m.number}`)![0]!.body]))}`);
    const keyDups = [...byKey].filter(([, rs]) => rs.length > 1);
    const bodyDups = [...byBody].filter(([, rs]) => rs.length > 1);
    duplicates += keyDups.length + bodyDups.length;
    if (keyDups.length) problems.push(`(chat, number) stored twice in MySQL: ${keyDups.slice(0, 10).map(([k]) => k).join(", ")}`);
    if (bodyDups.length) problems.push(`one create stored under several numbers: ${JSON.stringify(bodyDups.slice(0, 5).map(([b, rs]) => [b, rs.map((r) => r.number)]))}`);

    // --- live subscribers on B: wait for the markers, then compare
    let liveMissed = 0;
    let liveDuplicates = 0;
    let liveOutOfOrder = 0;
    const ackedAt = new Map(acks.map((r) => [`${r.chat}:${r.number}`, r.doneAt - faultAt]));
    for (const [i, s] of subscribers.entries()) {
      await s
        .until(() => CHATS.every((c) => s.has(c, marks.get(c)!.number)), 30_000, `${s.name} subscriber: the markers`)
        .catch(() => problems.push(`${s.name} subscriber: markers not delivered within 30 s (${CHATS.map((c) => `chat ${c} #${marks.get(c)!.number}: ${s.has(c, marks.get(c)!.number)}`).join(", ")})`));
      const closes = s.unexpectedCloses.slice(closesBefore[i]!);
      if (closes.length) problems.push(`${s.name} subscriber: socket closed ${JSON.stringify(closes)}`);
      for (const chat of CHATS) {
        const list = s.numbers(chat);
        const start = startCounts[i]!.get(chat)!;
        const prior = new Set(list.slice(0, start));
        const seen = new Set<number>();
        const dups: number[] = [];
        const order: string[] = [];
        let prev = start > 0 ? list[start - 1]! : 0;
        for (const n of list.slice(start)) {
          if (prior.has(n) || seen.has(n)) dups.push(n);
          seen.add(n);
          if (n <= prev) order.push(`${n} after ${prev}`);
          prev = n;
        }
        const missed = phaseAcked.get(chat)!.map((m) => m.number).filter((n) => !s.has(chat, n));
        liveMissed += missed.length;
        liveDuplicates += dups.length;
        liveOutOfOrder += order.length;
        if (missed.length) {
          const at = missed.map((n) => ackedAt.get(`${chat}:${n}`)).filter((t): t is number => t !== undefined);
          const when = at.length ? ` (acknowledged ${Math.round(Math.min(...at))}…${Math.round(Math.max(...at))} ms after the fault)` : "";
          problems.push(`${s.name} subscriber, chat ${chat}: ${missed.length} acknowledged numbers never delivered: ${ranges(missed)}${when}`);
        }
        if (dups.length) problems.push(`${s.name} subscriber, chat ${chat}: delivered twice: ${ranges(dups)}`);
        if (order.length) problems.push(`${s.name} subscriber, chat ${chat}: out of order: ${order.slice(0, 5).join(", ")}`);
      }
    }

    const row: Row = {
      fault,
      acked: acks.length,
      s503: failed.filter((r) => r.status === 503).length,
      other: failed.filter((r) => r.status !== 503).length,
      unavailableMs,
      backAfterMs: firstBack ? firstBack.doneAt - faultAt : null,
      maxAckLatencyMs: acks.length ? Math.max(...acks.map((r) => r.doneAt - r.sentAt)) : 0,
      lost,
      duplicates,
      liveMissed,
      liveDuplicates,
      liveOutOfOrder,
    };
    table.push(row);
    console.log(`${fault}: ${JSON.stringify(row)}${problems.length ? `\n  ${problems.join("\n  ")}` : ""}`);
    return { problems, results, row };
  }

  /** Registers an undo action for `after`, runs `body`, and undoes (once) when it ends either way. */
  async function withRestore<T>(undo: () => Promise<void> | void, body: () => Promise<T>): Promise<T> {
    pendingRestores.add(undo);
    try {
      return await body();
    } finally {
      pendingRestores.delete(undo);
      await undo();
    }
  }

  it("1. RabbitMQ stop_app, then start_app: creates answer 503 meanwhile, nothing acknowledged is lost", async () => {
    const { problems, row } = await phase("1 rabbitmq stop_app/start_app", "f1", async (load, faultAt) => {
      const stopped = await RabbitStopped.stop(120_000);
      await withRestore(
        () => stopped.start(),
        () => load.until(() => load.failedSince(faultAt) >= 100, 60_000, "creates to fail while RabbitMQ is stopped"),
      );
    });
    assert.ok(row.s503 > 0, "the outage was seen as 503s");
    assert.deepEqual(problems, []);
    assert.equal(row.other, 0, "every failed create was a 503");
  });

  it("2. the worker killed with SIGKILL mid-load and restarted: nothing lost or duplicated", async () => {
    const { problems, row } = await phase("2 worker kill -9 + restart", "f2", async () => {
      const old = worker;
      await old.stop("SIGKILL");
      assert.equal(old.child.signalCode, "SIGKILL");
      worker = await spawnCli("worker", env);
    });
    assert.deepEqual(problems, []);
    assert.equal(row.s503 + row.other, 0, "creates never touch the worker");
  });

  it("3. MariaDB frozen (SIGSTOP) for 10 s, then SIGCONT: creates keep being acknowledged, MySQL catches up", async () => {
    const pid = await mariadbPid();
    const { problems, row } = await phase("3 mariadb SIGSTOP 10 s", "f3", async () => {
      const frozen = await Frozen.freeze(pid, FREEZE_MS + 20_000);
      await withRestore(
        () => frozen.thaw(),
        () => new Promise((r) => setTimeout(r, FREEZE_MS)), // the fault is "frozen for 10 s"
      );
    });
    assert.deepEqual(problems, []);
    assert.equal(row.s503 + row.other, 0, "creates never touch MySQL");
  });

  it("4. Elasticsearch frozen (SIGSTOP) for 10 s, then SIGCONT: creates unaffected, the index catches up", async () => {
    const pid = await elasticsearchPid();
    const { problems, row, results } = await phase("4 elasticsearch SIGSTOP 10 s", "f4", async () => {
      const frozen = await Frozen.freeze(pid, FREEZE_MS + 20_000);
      await withRestore(
        () => frozen.thaw(),
        () => new Promise((r) => setTimeout(r, FREEZE_MS)),
      );
    });
    // The index queue held the writes: every acknowledged message of the phase becomes searchable.
    const acked = results.filter((r) => r.status === 201 && r.number !== undefined);
    const indexed = await eventually(async () => {
      let total = 0;
      for (const chat of CHATS) {
        const numbers = acked.filter((r) => r.chat === chat).map((r) => r.number!);
        const res = await fetch(`${services.elasticsearch}/${env.SEARCH_ALIAS}/_count`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: { bool: { filter: [{ term: { app: token } }, { term: { chat } }, { terms: { number: numbers } }] } } }),
        });
        total += ((await res.json()) as { count: number }).count;
      }
      return total === acked.length ? total : undefined;
    }, 60_000, "every acknowledged message of the phase in the search index").catch((err: unknown) => String(err));
    assert.deepEqual(problems, []);
    assert.equal(row.s503 + row.other, 0, "creates never touch Elasticsearch");
    assert.equal(indexed, acked.length);
  });

  it("5. the Redis pub/sub connection of B killed (CLIENT KILL by id): subscribers miss nothing", async () => {
    const { problems } = await phase("5 redis pubsub of B killed", "f5", async () => {
      const before = await pubsubClientsOf(redis, apiB.child.pid!, REDIS_PORT);
      assert.equal(before.length, 1, `B holds one pub/sub connection: ${JSON.stringify(before)}`);
      assert.equal(before[0]!.sub, CHATS.length, "subscribed to the four chats' channels");
      const killed = await killPubsubClientsOf(redis, apiB.child.pid!, REDIS_PORT);
      assert.deepEqual(killed.map((c) => c.id), [before[0]!.id]);
      const killedAt = performance.now();
      // B reconnects and resubscribes by itself.
      await eventually(async () => {
        const now = await pubsubClientsOf(redis, apiB.child.pid!, REDIS_PORT);
        return now.length === 1 && now[0]!.id !== before[0]!.id && now[0]!.sub === CHATS.length;
      }, 30_000, "B to resubscribe on a new pub/sub connection");
      console.log(`5: B was subscribed again on a new pub/sub connection within ${Math.round(performance.now() - killedAt)} ms of the kill (polled)`);
    });
    assert.deepEqual(problems, []);
  });

  it("6. Redis \"restarts empty\" (every key of this run deleted) mid-load: 503 while numbering recovers, no number reused", async () => {
    const { problems, row } = await phase("6 redis keys lost", "f6", async (load, faultAt) => {
      assert.ok((await deleteRedisPrefix(redis, env.REDIS_PREFIX!)) > 0, "the run had keys to lose");
      await load.until(() => load.failedSince(faultAt) > 0, 30_000, "creates to answer 503 while numbering recovers");
    });
    assert.ok(row.s503 > 0, "503 while numbering recovered");
    assert.deepEqual(problems, []);
    assert.equal(row.other, 0, "every failed create was a 503");
  });

  it("6b. Redis \"restarts empty\" while the only worker's clock runs 30 s behind the APIs' (another host): numbering still recovers", async () => {
    const skewedEnv = { ...env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import ${clockSkewPreload}`.trim(), TEST_CLOCK_SKEW_MS: String(CLOCK_SKEW_MS) };
    await worker.stop();
    worker = await spawnCli("worker", skewedEnv);
    let skewed = true;
    const unskew = async (): Promise<void> => {
      if (!skewed) return;
      skewed = false;
      await worker.stop();
      worker = await spawnCli("worker", env);
    };
    try {
      // The preload took: the worker's own log timestamps run behind this process's clock.
      const started = worker.output().split("\n").find((l) => l.includes('"worker started"'));
      const loggedAt = Number((JSON.parse(started!) as { time: number }).time);
      assert.ok(Date.now() - loggedAt > -CLOCK_SKEW_MS - 5_000, `worker clock skewed: logged ${loggedAt}, now ${Date.now()}`);
      const { problems, row } = await phase(`6b redis keys lost, worker clock ${CLOCK_SKEW_MS / 1000} s`, "f6b", async (load, faultAt) => {
        assert.ok((await deleteRedisPrefix(redis, env.REDIS_PREFIX!)) > 0, "the run had keys to lose");
        await load.until(() => load.failedSince(faultAt) > 0, 30_000, "creates to answer 503 while numbering recovers");
        const failingFrom = performance.now();
        const recovered = await load.until(() => load.ackedSince(failingFrom) > 0, RECOVERY_DEADLINE_MS, "numbering to recover").then(
          () => true,
          () => false,
        );
        // Either way, from here on the worker runs on this host's clock, so the rest of the suite can go on.
        await unskew();
        return recovered ? [] : [`numbering did not recover within ${RECOVERY_DEADLINE_MS} ms while the only worker's clock ran ${-CLOCK_SKEW_MS / 1000} s behind (every create answered 503 until that worker was replaced)`];
      });
      assert.ok(row.s503 > 0, "503 while numbering recovered");
      assert.deepEqual(problems, []);
      assert.equal(row.other, 0, "every failed create was a 503");
    } finally {
      await unskew();
    }
  });

  it("6c. Redis \"restarts empty\" while the worker is frozen (SIGSTOP) holding acknowledged writes: no number reused", async () => {
    // A worker that is alive but silent (a long pause, or cut off from Redis only) holds
    // deliveries RabbitMQ counts as unacked, not ready; Redis losing its keys also loses its report.
    const { problems, row } = await phase("6c redis keys lost, worker frozen 8 s", "f6c", async (load) => {
      const frozen = await Frozen.freeze(worker.child.pid!, WORKER_FREEZE_MS + 20_000);
      const frozenAt = performance.now();
      await withRestore(
        () => frozen.thaw(),
        async () => {
          // Writes acknowledged from now on sit with the frozen worker (up to its prefetch).
          await load.until(() => load.ackedSince(frozenAt) >= 60, WORKER_FREEZE_MS, "creates acknowledged while the worker is frozen");
          const lostAt = performance.now();
          assert.ok((await deleteRedisPrefix(redis, env.REDIS_PREFIX!)) > 0, "the run had keys to lose");
          await new Promise((r) => setTimeout(r, Math.max(0, WORKER_FREEZE_MS - (performance.now() - frozenAt)))); // the fault: frozen for 8 s
          const firstBack = load.results.filter((r) => r.status === 201 && r.sentAt > lostAt).sort((x, y) => x.doneAt - y.doneAt)[0];
          console.log(
            `6c: ${load.ackedSince(frozenAt) - load.ackedSince(lostAt)} creates acknowledged between the freeze and the key loss; ` +
              (firstBack ? `numbering recovered ${Math.round(firstBack.doneAt - lostAt)} ms after the loss, while the worker was still frozen` : "numbering did not recover while the worker was frozen"),
          );
        },
      );
    });
    assert.ok(row.s503 > 0, "503 while numbering recovered");
    assert.deepEqual(problems, []);
    assert.equal(row.other, 0, "every failed create was a 503");
  });

  it("7. API process A killed with SIGKILL mid-load and restarted: creates continue on the new process", async () => {
    const { problems, row } = await phase("7 api A kill -9 + restart", "f7", async (load) => {
      const old = apiA;
      await old.stop("SIGKILL");
      assert.equal(old.child.signalCode, "SIGKILL");
      apiA = await spawnCli("serve", env);
      load.retarget(origin(apiA));
    });
    assert.ok(row.other > 0, "creates in flight or sent while A was down failed without an answer");
    assert.deepEqual(problems, []);
  });

  it("8. API process B (the subscribers' server) killed with SIGKILL and restarted: subscribers resume with since = last delivered, miss nothing", async () => {
    const { problems, row } = await phase("8 api B kill -9 + resume", "f8", async () => {
      const old = apiB;
      const closed = subscribers.map((s) => s.expectingClose());
      await old.stop("SIGKILL");
      assert.equal(old.child.signalCode, "SIGKILL");
      await Promise.all(closed);
      apiB = await spawnCli("serve", env);
      // Each resumes every chat from the last number it was delivered.
      await Promise.all(subscribers.map((s) => s.connect(`ws://127.0.0.1:${apiB.port}/ws`, CHATS, (chat) => s.last(chat))));
    });
    assert.deepEqual(problems, []);
    assert.equal(row.s503 + row.other, 0, "creates on A never depend on B");
  });

  it("once everything is back: both APIs ready, every acknowledged message in MySQL once, every subscriber got every one in order", async () => {
    const problems: string[] = [];
    for (const p of [apiA, apiB]) {
      const ready = await eventually(async () => ((await new Api(origin(p)).get("/readyz")).status === 200 ? true : undefined), 30_000, "/readyz 200").catch(() => false);
      if (!ready) problems.push(`${origin(p)}/readyz is not 200`);
    }
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      "SELECT c.number AS chat, m.number, m.body FROM messages m JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id WHERE a.token = ?",
      [token],
    );
    const stored = new Map(rows.map((r) => [`${r.chat}:${r.number}`, String(r.body)]));
    const bodies = new Map<string, number>();
    for (const r of rows) bodies.set(String(r.body), (bodies.get(String(r.body)) ?? 0) + 1);
    const twice = [...bodies].filter(([, n]) => n > 1);
    if (twice.length) problems.push(`bodies stored twice: ${twice.slice(0, 5).map(([b]) => b).join(", ")}`);
    for (const chat of CHATS) {
      const acked = acknowledged.get(chat)!;
      const missing = [...acked].filter(([n, body]) => stored.get(`${chat}:${n}`) !== body).map(([n]) => n);
      if (missing.length) problems.push(`chat ${chat}: acknowledged but not in MySQL with its body: ${ranges(missing)}`);
      for (const s of subscribers) {
        const got = s.numbers(chat);
        const notDelivered = [...acked.keys()].filter((n) => !s.has(chat, n));
        if (notDelivered.length) problems.push(`${s.name} subscriber, chat ${chat}: ${notDelivered.length} acknowledged never delivered: ${ranges(notDelivered)}`);
        if (new Set(got).size !== got.length) problems.push(`${s.name} subscriber, chat ${chat}: ${got.length - new Set(got).size} delivered twice`);
        const inversions = got.filter((n, i) => i > 0 && n <= got[i - 1]!).length;
        if (inversions) problems.push(`${s.name} subscriber, chat ${chat}: ${inversions} numbers out of order`);
      }
    }
    for (const s of subscribers) if (s.unexpectedCloses.length) problems.push(`${s.name} subscriber closed unexpectedly: ${JSON.stringify(s.unexpectedCloses)}`);
    assert.ok([...acknowledged.values()].every((m) => m.size > 0));
    assert.deepEqual(problems, []);
  });
});
