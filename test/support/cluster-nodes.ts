import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { eventually } from "./env.js";

// The local Redis Cluster's nodes (scripts/services.sh cluster up), seen
// from outside the product: who owns a slot, a node's pid, and putting the
// cluster back as it was after a test failed a primary over.

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
export const CLUSTER_PORTS = [7000, 7001, 7002, 7003, 7004, 7005];

/** A short-lived connection to one node, closed after `use`. */
export async function onNode<T>(port: number, use: (node: Redis) => Promise<T>): Promise<T> {
  const node = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  node.on("error", () => undefined);
  try {
    await node.connect();
    return await use(node);
  } finally {
    node.disconnect();
  }
}

export interface Shard {
  start: number;
  end: number;
  primary: number;
  replicas: number[];
}

/** The slot table as some live node sees it. */
export async function shards(): Promise<Shard[]> {
  for (const port of CLUSTER_PORTS) {
    try {
      const table = (await onNode(port, (n) => n.call("CLUSTER", "SLOTS"))) as [number, number, [string, number, string], ...[string, number, string][]][];
      return table.map(([start, end, primary, ...replicas]) => ({ start, end, primary: Number(primary[1]), replicas: replicas.map((r) => Number(r[1])) }));
    } catch {
      // that node is down: ask the next
    }
  }
  throw new Error("no cluster node answers");
}

export async function shardOf(slot: number): Promise<Shard> {
  return (await shards()).find((s) => slot >= s.start && slot <= s.end)!;
}

/** A field of INFO on one node. */
export async function info(port: number, field: string): Promise<string> {
  const text = await onNode(port, (n) => n.info());
  return new RegExp(`^${field}:(.*)$`, "m").exec(text)?.[1]?.trim() ?? "";
}

export async function nodePid(port: number): Promise<number> {
  return Number(await info(port, "process_id"));
}

/**
 * Restarts any node that is down (it rejoins as a replica), then fails each
 * shard back to the primary it had (`primaries`), so later tests find the
 * layout `cluster up` made. A manual failover moves no data but changes the
 * serving process, so those slots are fenced until a recovery.
 */
export async function restoreCluster(primaries: number[]): Promise<void> {
  await run("bash", ["scripts/services.sh", "cluster", "up"], { cwd: root, timeout: 120_000 });
  for (const port of primaries) {
    if ((await info(port, "role")) === "master") continue;
    await eventually(async () => (await info(port, "master_link_status")) === "up", 60_000, `node ${port} to sync with its primary`);
    await onNode(port, (n) => n.call("CLUSTER", "FAILOVER"));
    await eventually(async () => (await info(port, "role")) === "master", 60_000, `node ${port} to be primary again`);
  }
  await run("bash", ["scripts/services.sh", "cluster", "up"], { cwd: root, timeout: 120_000 });
}
