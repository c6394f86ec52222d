// Every setting comes from the environment and is validated once at startup; a
// bad value stops the process with one line naming the variable.

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`invalid configuration: ${variable} ${message}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function url(env: Env, name: string, protocols: string[]): URL | null {
  const raw = env[name];
  if (raw === undefined || raw === "") return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, "is not a valid URL");
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.map((p) => p + "//").join(" or ")}, got ${parsed.protocol}//`);
  }
  if (parsed.port !== "" && !/^\d+$/.test(parsed.port)) throw new ConfigError(name, "has a port that is not a number");
  return parsed;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(", ")}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

function text(env: Env, name: string, fallback: string, pattern = /^[A-Za-z0-9_.:-]{1,64}$/): string {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!pattern.test(raw)) throw new ConfigError(name, `must match ${pattern}, got ${JSON.stringify(raw)}`);
  return raw;
}

/** `*`, or a comma list of origins (`https://app.example.com`, `http://localhost:5173`). */
function origins(env: Env, name: string): "*" | string[] {
  const raw = (env[name] ?? "").trim();
  if (raw === "") return [];
  if (raw === "*") return "*";
  return raw.split(",").map((entry) => {
    const origin = entry.trim();
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigError(name, `must be * or a comma list of origins, got ${JSON.stringify(origin)}`);
    }
    if (!["http:", "https:"].includes(parsed.protocol) || parsed.origin !== origin.replace(/\/$/, "").toLowerCase()) {
      throw new ConfigError(name, `entries must be origins like https://app.example.com (scheme, host, optional port), got ${JSON.stringify(origin)}`);
    }
    return parsed.origin;
  });
}

/** One Redis server (REDIS_URL), or a Redis Cluster by some of its nodes (REDIS_CLUSTER_NODES). */
export type RedisTarget = { kind: "server"; url: URL } | { kind: "cluster"; nodes: { host: string; port: number }[] };

export interface ClusterUrls {
  mysql: URL;
  redis: RedisTarget;
  amqp: URL;
  elasticsearch: URL;
}

/** `host:port,host:port…`, the nodes a Redis Cluster client starts from (it discovers the rest). */
function clusterNodes(env: Env, name: string): { host: string; port: number }[] | null {
  const raw = env[name];
  if (raw === undefined || raw === "") return null;
  return raw.split(",").map((node) => {
    const m = /^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:]{2,39}\]):(\d{1,5})$/.exec(node.trim());
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) throw new ConfigError(name, `must be host:port[,host:port…], got ${JSON.stringify(node)}`);
    return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
  });
}

export interface Config {
  /** Embedded when no service is configured; cluster when all four are. */
  mode: "embedded" | "cluster";
  cluster: ClusterUrls | null;
  host: string;
  port: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  adminKey: string | null;
  /** Bearer key for GET /metrics (API and worker); null: metrics are open. */
  metricsKey: string | null;
  /** A process that stops refreshing presence (it died) leaves it this long after its last refresh, at most 5/4 of it. */
  presenceTtlSeconds: number;
  /** How long a rotated application secret keeps verifying user tokens. */
  secretGraceSeconds: number;
  /** CORS_ORIGINS: browser origins allowed to call REST and open sockets; `"*"` every one, empty: CORS off. */
  corsOrigins: "*" | string[];
  /** The worker role's metrics listener; null: none. */
  workerMetricsPort: number | null;
  /** Prefix for every Redis key and channel, so deployments and test runs never collide. */
  redisPrefix: string;
  /** Name of the durable write queue (its dead-letter queue is `<name>.dead`). */
  queueName: string;
  /** Elasticsearch alias name; versioned indices are `<alias>-v<N>`. */
  searchAlias: string;
  /** RabbitMQ queue type of every queue the deployment declares (dead-letter queues too). */
  amqpQueueType: "classic" | "quorum";
  publishTimeoutMs: number;
  /** How long an Idempotency-Key (or WebSocket send key) is remembered. */
  idempotencyTtlSeconds: number;
  maxBatch: number;
  /** Creates one API process holds unanswered at most; past it, 503 at once (load shedding). */
  maxInflightCreates: number;
  recentPerChat: number;
  recentTtlSeconds: number;
  workerPrefetch: number;
  workerBatchMs: number;
  reconcileIntervalMs: number;
  createsPerSecondPerToken: number;
  /** Longest graceful shutdown: in-flight requests get this long to be answered. */
  shutdownTimeoutMs: number;
  /** Embedded mode's memory bound: messages kept per chat and in all. */
  embedded: { maxMessagesPerChat: number; maxMessagesTotal: number };
  ws: {
    maxPayloadBytes: number;
    maxSubscriptions: number;
    sendsPerSecond: number;
    maxBackpressureBytes: number;
    idleTimeoutSeconds: number;
  };
}

/** One of each is needed in cluster mode; Redis is either variable, never both. */
const serviceVars = [["MYSQL_URL"], ["REDIS_URL", "REDIS_CLUSTER_NODES"], ["AMQP_URL"], ["ELASTICSEARCH_URL"]] as const;

function redisTarget(env: Env): RedisTarget | null {
  const server = url(env, "REDIS_URL", ["redis:", "rediss:"]);
  const nodes = clusterNodes(env, "REDIS_CLUSTER_NODES");
  if (server && nodes) throw new ConfigError("REDIS_CLUSTER_NODES", "and REDIS_URL are both set: set exactly one (a Redis Cluster, or one Redis server)");
  if (server) return { kind: "server", url: server };
  return nodes ? { kind: "cluster", nodes } : null;
}

export function loadConfig(env: Env = process.env): Config {
  const mysql = url(env, "MYSQL_URL", ["mysql:"]);
  const redis = redisTarget(env);
  const amqp = url(env, "AMQP_URL", ["amqp:", "amqps:"]);
  const elasticsearch = url(env, "ELASTICSEARCH_URL", ["http:", "https:"]);
  const given = serviceVars.filter((names) => names.some((name) => env[name]));
  if (given.length > 0 && given.length < serviceVars.length) {
    const missing = serviceVars.find((names) => !names.some((name) => env[name]))!.join(" or ");
    const all = serviceVars.map((names) => names.join(" or ")).join(", ");
    throw new ConfigError(missing, `is required in cluster mode (set all of ${all}, or none for embedded mode)`);
  }
  const cluster = mysql && redis && amqp && elasticsearch ? { mysql, redis, amqp, elasticsearch } : null;
  return {
    mode: cluster ? "cluster" : "embedded",
    cluster,
    host: text(env, "HOST", "0.0.0.0", /^[0-9A-Za-z.:\-[\]]{1,64}$/),
    port: integer(env, "PORT", 3000, 0, 65535),
    logLevel: oneOf(env, "LOG_LEVEL", ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const, "info"),
    adminKey: env.ADMIN_KEY ? text(env, "ADMIN_KEY", "", /^.{16,256}$/) : null,
    metricsKey: env.METRICS_KEY ? text(env, "METRICS_KEY", "", /^.{16,256}$/) : null,
    workerMetricsPort: env.WORKER_METRICS_PORT ? integer(env, "WORKER_METRICS_PORT", 0, 0, 65535) : null,
    corsOrigins: origins(env, "CORS_ORIGINS"),
    secretGraceSeconds: integer(env, "SECRET_GRACE_SECONDS", 600, 1, 7 * 86_400),
    presenceTtlSeconds: integer(env, "PRESENCE_TTL_SECONDS", 20, 2, 3600),
    redisPrefix: text(env, "REDIS_PREFIX", "chat:"),
    queueName: text(env, "QUEUE_NAME", "chat.writes"),
    searchAlias: text(env, "SEARCH_ALIAS", "chat-messages", /^[a-z0-9_-]{1,64}$/),
    amqpQueueType: oneOf(env, "AMQP_QUEUE_TYPE", ["classic", "quorum"] as const, "classic"),
    publishTimeoutMs: integer(env, "PUBLISH_TIMEOUT_MS", 5000, 100, 120_000),
    idempotencyTtlSeconds: integer(env, "IDEMPOTENCY_TTL_SECONDS", 600, 1, 7 * 86_400),
    maxBatch: integer(env, "MAX_BATCH", 1000, 1, 100_000),
    maxInflightCreates: integer(env, "MAX_INFLIGHT_CREATES", 1000, 1, 1_000_000),
    recentPerChat: integer(env, "RECENT_PER_CHAT", 10_000, 100, 1_000_000),
    recentTtlSeconds: integer(env, "RECENT_TTL_SECONDS", 3600, 10, 7 * 86_400),
    workerPrefetch: integer(env, "WORKER_PREFETCH", 200, 1, 65_535),
    workerBatchMs: integer(env, "WORKER_BATCH_MS", 10, 0, 10_000),
    reconcileIntervalMs: integer(env, "RECONCILE_INTERVAL_MS", 10_000, 100, 3_600_000),
    createsPerSecondPerToken: integer(env, "CREATES_PER_SECOND_PER_TOKEN", 50_000, 1, 10_000_000),
    shutdownTimeoutMs: integer(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 100, 600_000),
    embedded: {
      maxMessagesPerChat: integer(env, "EMBEDDED_MAX_MESSAGES_PER_CHAT", 10_000, 100, 10_000_000),
      maxMessagesTotal: integer(env, "EMBEDDED_MAX_MESSAGES", 1_000_000, 1000, 100_000_000),
    },
    ws: {
      maxPayloadBytes: integer(env, "WS_MAX_PAYLOAD_BYTES", 128 * 1024, 1024, 16 * 1024 * 1024),
      maxSubscriptions: integer(env, "WS_MAX_SUBSCRIPTIONS", 100, 1, 100_000),
      sendsPerSecond: integer(env, "WS_SENDS_PER_SECOND", 200, 1, 1_000_000),
      maxBackpressureBytes: integer(env, "WS_MAX_BACKPRESSURE_BYTES", 1024 * 1024, 1024, 1024 * 1024 * 1024),
      idleTimeoutSeconds: integer(env, "WS_IDLE_TIMEOUT_SECONDS", 60, 8, 960),
    },
  };
}
