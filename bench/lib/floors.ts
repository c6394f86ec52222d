import amqp from "amqplib";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import { Samples, type LatencySummary } from "./stats.js";

// Round trips to each backend on this machine, one at a time, with nothing
// else in flight: the latency floor under every create. They explain the
// scenario numbers (a create waits for at least Redis + a RabbitMQ confirm;
// a baseline create waits for a MySQL commit) and show when a client option
// (TCP_NODELAY) or the disk (fsync) is what dominates.

export interface Floor {
  name: string;
  what: string;
  latency: LatencySummary;
}

async function time(n: number, op: () => Promise<unknown>): Promise<LatencySummary> {
  const s = new Samples();
  for (let i = 0; i < 3; i++) await op(); // warm up
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op();
    s.add(performance.now() - t);
  }
  return s.summary();
}

export async function measureFloors(
  /** mysql: a server URL (no database needed). */
  urls: { amqp: string; redis: string; mysql: string },
  /** Unique per run: names the queue, Redis key and scratch database. */
  prefix: string,
  n: number,
): Promise<Floor[]> {
  const floors: Floor[] = [];
  // amqplib writes a publish as one buffer below 2 KiB and as several writes above
  // (SINGLE_CHUNK_THRESHOLD); with Nagle on, the later writes wait for the
  // broker's delayed ACK. A batch of ~30 messages is past that size.
  for (const noDelay of [false, true]) {
    const conn = await amqp.connect(urls.amqp, noDelay ? { noDelay: true } : {});
    try {
      const ch = await conn.createConfirmChannel();
      const q = `${prefix}.floor.${noDelay ? "nodelay" : "default"}`;
      await ch.assertQueue(q, { durable: true });
      for (const size of [256, 4096]) {
        const payload = Buffer.alloc(size, 0x61);
        const publish = (): Promise<void> => new Promise((res, rej) => ch.sendToQueue(q, payload, { persistent: true }, (err) => (err ? rej(err) : res())));
        floors.push({
          name: `rabbitmq-confirm-${size < 1024 ? `${size}B` : `${size / 1024}KiB`}${noDelay ? "-nodelay" : ""}`,
          what: `persistent publish → broker confirm, durable queue, amqplib ${noDelay ? "with { noDelay: true }, as the product connects" : "default socket options (Nagle on)"}`,
          latency: await time(n, publish),
        });
      }
      await ch.deleteQueue(q);
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  const redis = new Redis(urls.redis);
  try {
    const key = `${prefix}floor`;
    floors.push({ name: "redis-eval", what: "EVAL of a one-key INCRBY script (ioredis defaults)", latency: await time(n, () => redis.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", 1, key, 1)) });
    await redis.del(key);
  } finally {
    redis.disconnect();
  }

  // A real table in a throwaway database: InnoDB temporary tables skip the redo log, so their commits never fsync.
  const database = `${prefix.replace(/\W/g, "_")}floor`;
  const db = await mysql.createConnection(urls.mysql);
  try {
    await db.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
    await db.query(`CREATE TABLE \`${database}\`.floor_t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB`);
    await db.query(`USE \`${database}\``);
    floors.push({ name: "mysql-select", what: "SELECT 1", latency: await time(n, () => db.query("SELECT 1")) });
    floors.push({
      name: "mysql-commit",
      what: "autocommit single-row INSERT (InnoDB commit, innodb_flush_log_at_trx_commit as configured)",
      latency: await time(n, () => db.execute("INSERT INTO floor_t (v) VALUES (?)", ["x"])),
    });
  } finally {
    await db.query(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => undefined);
    await db.end();
  }
  return floors;
}
