import amqp, { type Channel } from "amqplib";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import { writeTopology, type WriteTopology } from "../../src/adapters/rabbitmq/topology.js";

/** Removes everything one isolated run created (see isolatedEnv). */
export async function cleanupRun(env: Record<string, string>): Promise<void> {
  const db = new URL(env.MYSQL_URL!).pathname.slice(1);
  const server = new URL(env.MYSQL_URL!);
  server.pathname = "/";
  const conn = await mysql.createConnection(server.toString());
  await conn.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await conn.end();

  const redis = new Redis(env.REDIS_URL!);
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
 * The test's view of "Redis restarted empty": every key of this run is gone,
 * all at once, as a restart loses them (one script: a SCAN-and-DEL loop would
 * let creates run against half-deleted state, which no real restart does).
 */
export async function deleteRedisPrefix(redis: Redis, prefix: string): Promise<number> {
  const deleted = await redis.eval(
    `local n = 0
     for _, key in ipairs(redis.call('KEYS', ARGV[1])) do n = n + redis.call('DEL', key) end
     return n`,
    0,
    `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`,
  );
  return Number(deleted);
}
