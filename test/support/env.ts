import { randomBytes } from "node:crypto";

/** Loopback services (scripts/services.sh); overridable for other machines. */
export const services = {
  mysql: process.env.TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306",
  redis: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
  /** The local Redis Cluster's primaries (scripts/services.sh cluster up); a client finds the replicas itself. */
  redisCluster: process.env.TEST_REDIS_CLUSTER_NODES ?? "127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002",
  amqp: process.env.TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672",
  elasticsearch: process.env.TEST_ELASTICSEARCH_URL ?? "http://127.0.0.1:9200",
};

/** Names of one isolated test run: own database, Redis prefix, queues, ES alias. */
export function isolatedEnv(label: string, extra: Record<string, string> = {}): Record<string, string> {
  const id = `${label}_${randomBytes(4).toString("hex")}`;
  return {
    MYSQL_URL: `${services.mysql}/t_${id}`,
    REDIS_URL: services.redis,
    AMQP_URL: services.amqp,
    ELASTICSEARCH_URL: services.elasticsearch,
    REDIS_PREFIX: `t:${id}:`,
    QUEUE_NAME: `t.${id}.writes`,
    SEARCH_ALIAS: `t-${id.toLowerCase().replace(/_/g, "-")}`,
    PUBLISH_TIMEOUT_MS: "300",
    LOG_LEVEL: "warn",
    HOST: "127.0.0.1",
    PORT: "0",
    ...extra,
  };
}

/** Polls until `check` returns a value (not undefined/false) or the deadline passes. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
