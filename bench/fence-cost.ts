// npm run bench:fence [-- --calls 5000]
//
// What guarding numbering against a failover costs, per numbering step (one
// append script call), on a private redis-server started for the run and on
// the local Redis Cluster (scripts/services.sh cluster up):
//   before    the append script before the per-slot fence (one global epoch
//             key read with EXISTS; one server only: its keys span slots);
//   fence     the append script with the per-slot fence (INFO run_id, epoch
//             bound counter), the chosen design;
//   fence+WAIT the same followed by WAIT 1 100 on the same connection, the
//             alternative (acknowledge only once a replica has the increment).
// Each with batches of 1 and 50 messages: sequential round trips (p50, p99),
// then 50 calls in flight on one connection, as the product runs them (calls
// per second). CPU per call: this client's (process.cpuUsage) and the
// server's (INFO commandstats usec of EVALSHA and WAIT). Nothing asserts.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { SlotFence } from "../src/adapters/redis/fence.js";
import { keySlot } from "../src/adapters/redis/key-slot.js";
import { RedisKeys } from "../src/adapters/redis/keys.js";
import { LuaScript } from "../src/adapters/redis/lua-script.js";
import { RedisChatLog } from "../src/adapters/redis/redis-chat-log.js";
import { RedisSequencer } from "../src/adapters/redis/redis-sequencer.js";
import { shards } from "../test/support/cluster-nodes.js";
import { repoRoot } from "./lib/procs.js";
import { Samples } from "./lib/stats.js";

const { values: flags } = parseArgs({ options: { calls: { type: "string", default: "5000" } } });
const CALLS = Number(flags.calls);
const IN_FLIGHT = 50;

/** The append script as it was before the fence became per slot, from git history (null without it). */
function scriptBefore(): LuaScript | null {
  try {
    const source = execFileSync("git", ["show", "7050900:src/adapters/redis/scripts/append-messages.ts"], { cwd: repoRoot, encoding: "utf8" });
    return new LuaScript(/new LuaScript\(`([\s\S]*)`\);/.exec(source)![1]!);
  } catch {
    return null;
  }
}

async function commandUsec(node: Redis): Promise<number> {
  const stats = await node.info("commandstats");
  let usec = 0;
  for (const m of stats.matchAll(/^cmdstat_(evalsha|eval|wait):calls=\d+,usec=(\d+)/gm)) usec += Number(m[2]);
  return usec;
}

interface Result {
  variant: string;
  batch: number;
  p50: number | null;
  p99: number | null;
  perSec: number;
  clientUs: number;
  serverUs: number;
}

async function measure(variant: string, batch: number, node: Redis, call: () => Promise<unknown>): Promise<Result> {
  for (let i = 0; i < 200; i++) await call(); // warm-up (script loaded, JIT)
  const samples = new Samples();
  const cpu0 = process.cpuUsage();
  const server0 = await commandUsec(node);
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await call();
    samples.add(performance.now() - t);
  }
  const cpu = process.cpuUsage(cpu0);
  const serverUs = ((await commandUsec(node)) - server0) / CALLS;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next++ < CALLS) await call();
  }));
  const perSec = CALLS / ((performance.now() - t0) / 1000);
  const s = samples.summary();
  return { variant, batch, p50: s.p50, p99: s.p99, perSec, clientUs: (cpu.user + cpu.system) / CALLS, serverUs };
}

/** A chat ready to append to on `node` (its slot's marker written, counter created). */
async function chatOn(node: Redis, keys: RedisKeys, want: (slot: number) => boolean): Promise<{ app: string; log: RedisChatLog }> {
  let app = randomBytes(11).toString("hex");
  while (!want(keySlot(keys.messageCounter(app, 1))) || !want(keySlot(keys.chatCounter(app)))) app = randomBytes(11).toString("hex");
  const fence = new SlotFence(node, keys);
  await fence.release([keySlot(keys.messageCounter(app, 1)), keySlot(keys.chatCounter(app))]);
  // Seeded as after a recovery (allocating would read every slot's marker, which one node of a cluster cannot answer).
  await new RedisSequencer(node, keys, fence, 600).seed(app, 1);
  const log = new RedisChatLog(node, keys, fence, { keep: 1000, ttlSeconds: 600, idempotencyTtlSeconds: 600 });
  await log.seed(app, 1, 0);
  return { app, log };
}

const sends = (n: number): { body: string; key: null }[] => Array.from({ length: n }, (_, i) => ({ body: `message body ${i} of a typical length`, key: null }));

async function privateServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  for (let i = 0; ; i++) {
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null });
    probe.on("error", () => undefined);
    const up = await probe.connect().then(() => true, () => false);
    probe.disconnect();
    if (up) break;
    if (i > 100) throw new Error(`redis-server on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, stop: async () => void child.kill("SIGTERM") };
}

async function main(): Promise<void> {
  const results: { where: string; rows: Result[] }[] = [];
  const before = scriptBefore();

  const server = await privateServer();
  try {
    const node = new Redis({ port: server.port });
    const keys = new RedisKeys(`bench:fence:${randomBytes(3).toString("hex")}:`);
    const { app, log } = await chatOn(node, keys, () => true);
    const rows: Result[] = [];
    for (const batch of [1, 50]) {
      const batchSends = sends(batch);
      if (before) {
        const oldKeys = [`${keys.prefix}epoch:2`, `${keys.prefix}{${app}}:chats`, `${keys.prefix}{${app}:1}:n`, `${keys.prefix}{${app}:1}:oldlog`];
        await node.set(oldKeys[0]!, "x");
        await node.set(oldKeys[1]!, 1);
        await node.set(oldKeys[2]!, 0);
        const args = [1, Date.now(), 1000, 600, 600, `${keys.prefix}{${app}:1}:oldlive`, ...batchSends.flatMap((s) => [s.body, 0])];
        rows.push(await measure("before", batch, node, () => before.run(node, oldKeys, args)));
      }
      rows.push(await measure("fence", batch, node, () => log.append(app, 1, batchSends, Date.now())));
    }
    results.push({ where: "one redis-server (no replica)", rows });
    node.disconnect();
  } finally {
    await server.stop();
  }

  // One primary of the cluster, on a direct connection (WAIT goes to the connection that wrote).
  const shard = (await shards())[0]!;
  const node = new Redis({ port: shard.primary });
  try {
    const keys = new RedisKeys(`bench:fence:${randomBytes(3).toString("hex")}:`);
    const { app, log } = await chatOn(node, keys, (slot) => slot >= shard.start && slot <= shard.end);
    const rows: Result[] = [];
    for (const batch of [1, 50]) {
      const batchSends = sends(batch);
      rows.push(await measure("fence", batch, node, () => log.append(app, 1, batchSends, Date.now())));
      rows.push(
        await measure("fence+WAIT", batch, node, async () => {
          await log.append(app, 1, batchSends, Date.now());
          if (Number(await node.call("WAIT", "1", "100")) < 1) throw new Error("the replica did not confirm within 100 ms");
        }),
      );
    }
    results.push({ where: `cluster primary ${shard.primary} (replica ${shard.replicas.join(",")})`, rows });
  } finally {
    node.disconnect();
  }

  console.log(`| where | variant | messages per call | p50 ms | p99 ms | calls/s (${IN_FLIGHT} in flight) | client CPU µs/call | Redis CPU µs/call |`);
  console.log("|---|---|---:|---:|---:|---:|---:|---:|");
  for (const { where, rows } of results) {
    for (const r of rows) {
      console.log(`| ${where} | ${r.variant} | ${r.batch} | ${r.p50?.toFixed(3)} | ${r.p99?.toFixed(3)} | ${Math.round(r.perSec)} | ${r.clientUs.toFixed(1)} | ${r.serverUs.toFixed(1)} |`);
    }
  }
}

await main();
