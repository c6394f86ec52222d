import { Cluster, Redis } from "ioredis";
import type { RedisClient } from "../../src/adapters/redis/client.js";

/** `host:port,…` → the nodes a cluster client starts from. */
export const clusterNodes = (list: string): { host: string; port: number }[] =>
  list.split(",").map((node) => ({ host: node.slice(0, node.lastIndexOf(":")), port: Number(node.slice(node.lastIndexOf(":") + 1)) }));

/** A client for the Redis of an isolated env: its one server, or its cluster. */
export function redisOf(env: Record<string, string>): RedisClient {
  return env.REDIS_CLUSTER_NODES ? new Cluster(clusterNodes(env.REDIS_CLUSTER_NODES)) : new Redis(env.REDIS_URL!);
}

/** The primaries of a cluster (each on its own connection), or the one server. */
export async function primaries(redis: RedisClient): Promise<Redis[]> {
  if (!(redis instanceof Cluster)) return [redis];
  if (redis.status !== "ready") await new Promise<void>((resolve, reject) => redis.once("ready", resolve).once("error", reject));
  return redis.nodes("master");
}
