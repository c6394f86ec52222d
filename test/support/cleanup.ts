import amqp, { type Channel } from "amqplib";
import mysql from "mysql2/promise";
import { Cluster } from "ioredis";
import { writeTopology, type WriteTopology } from "../../src/adapters/rabbitmq/topology.js";
import type { RedisClient } from "../../src/adapters/redis/client.js";
import { keySlot } from "../../src/adapters/redis/key-slot.js";
import { primaries, redisOf } from "./redis.js";

/** Removes everything one isolated run created (see isolatedEnv). */
export async function cleanupRun(env: Record<string, string>): Promise<void> {
  const db = new URL(env.MYSQL_URL!).pathname.slice(1);
  const server = new URL(env.MYSQL_URL!);
  server.pathname = "/";
  const conn = await mysql.createConnection(server.toString());
  await conn.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await conn.end();

  const redis = redisOf(env);
  await deleteRedisPrefix(redis, env.REDIS_PREFIX!);
  redis.disconnect();

  const connection = await amqp.connect(env.AMQP_URL!);
  await deleteWriteTopology(await connection.createChannel(), writeTopology(env.QUEUE_NAME!));
  await connection.close();

  await deleteIndices(env.ELASTICSEARCH_URL!, `${env.SEARCH_ALIAS}*`);
}

/** The write exchange, its queues and their dead-letter queues (src/adapters/rabbitmq/topology.ts). */
export async function deleteWriteTopology(channel: Channel, topology: WriteTopology): Promise<void> {
  for (const q of [topology.persist, topology.index]) {
    await channel.deleteQueue(q);
    await channel.deleteQueue(`${q}.dead`);
  }
  await channel.deleteExchange(topology.exchange);
}

/** Deletes indices by name (Elasticsearch refuses wildcard deletes by default). */
export async function deleteIndices(node: string, pattern: string): Promise<void> {
  const res = await fetch(`${node}/_cat/indices/${pattern}?h=index&format=json`).catch(() => null);
  if (!res?.ok) return;
  const indices = (await res.json()) as { index: string }[];
  if (indices.length > 0) await fetch(`${node}/${indices.map((i) => i.index).join(",")}`, { method: "DELETE" });
}

/**
 * The test's view of "Redis restarted empty": every key of this run is gone
 * at once — in one DEL on one server, and slot by slot on a cluster (a slot
 * is what fails over or restarts as a whole). Deleting key by key would let
 * a script see a slot's counter gone while its epoch marker still stands,
 * which no restart does.
 */
export async function deleteRedisPrefix(redis: RedisClient, prefix: string): Promise<number> {
  let deleted = 0;
  for (const node of await primaries(redis)) {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await node.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    if (keys.length === 0) continue;
    if (!(redis instanceof Cluster)) {
      deleted += await node.del(...keys);
      continue;
    }
    const bySlot = new Map<number, string[]>();
    for (const key of keys) {
      const slot = keySlot(key);
      if (bySlot.has(slot)) bySlot.get(slot)!.push(key);
      else bySlot.set(slot, [key]);
    }
    deleted += (await Promise.all([...bySlot.values()].map((slotKeys) => node.del(...slotKeys)))).reduce((a, b) => a + b, 0);
  }
  return deleted;
}
