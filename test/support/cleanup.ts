import amqp from "amqplib";
import mysql from "mysql2/promise";
import type { RedisClient } from "../../src/adapters/redis/client.js";
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
  const channel = await connection.createChannel();
  for (const q of [env.QUEUE_NAME!, `${env.QUEUE_NAME}.dead`, `${env.QUEUE_NAME}.index`, `${env.QUEUE_NAME}.index.dead`]) await channel.deleteQueue(q);
  await connection.close();

  await deleteIndices(env.ELASTICSEARCH_URL!, `${env.SEARCH_ALIAS}*`);
}

/** Deletes indices by name (Elasticsearch refuses wildcard deletes by default). */
export async function deleteIndices(node: string, pattern: string): Promise<void> {
  const res = await fetch(`${node}/_cat/indices/${pattern}?h=index&format=json`).catch(() => null);
  if (!res?.ok) return;
  const indices = (await res.json()) as { index: string }[];
  if (indices.length > 0) await fetch(`${node}/${indices.map((i) => i.index).join(",")}`, { method: "DELETE" });
}

/** The test's view of "Redis restarted empty": every key of this run is gone (on every primary of a cluster). */
export async function deleteRedisPrefix(redis: RedisClient, prefix: string): Promise<number> {
  let deleted = 0;
  for (const node of await primaries(redis)) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      // One key per command: a cluster node refuses a DEL across slots.
      if (keys.length) deleted += (await Promise.all(keys.map((key) => node.unlink(key)))).reduce((a, b) => a + b, 0);
    } while (cursor !== "0");
  }
  return deleted;
}
