import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config.js";
import { runCli } from "../support/processes.js";

const cluster = {
  MYSQL_URL: "mysql://root@127.0.0.1:3306/chat",
  REDIS_URL: "redis://127.0.0.1:6379",
  AMQP_URL: "amqp://guest:guest@127.0.0.1:5672",
  ELASTICSEARCH_URL: "http://127.0.0.1:9200",
};

describe("config", () => {
  it("is embedded with no service URLs and cluster with all four", () => {
    assert.equal(loadConfig({}).mode, "embedded");
    const config = loadConfig(cluster);
    assert.equal(config.mode, "cluster");
    assert.equal(config.cluster?.mysql.hostname, "127.0.0.1");
    assert.equal(config.port, 3000);
    assert.equal(config.metricsKey, null, "metrics are open unless METRICS_KEY is set");
    assert.equal(config.workerMetricsPort, null, "the worker has no metrics listener unless WORKER_METRICS_PORT is set");
  });

  it("takes a Redis Cluster by its nodes instead of one Redis server, and quorum queues when asked", () => {
    const config = loadConfig({ ...cluster, REDIS_URL: "", REDIS_CLUSTER_NODES: "127.0.0.1:7000, redis-b:7001,[::1]:7002" });
    assert.equal(config.mode, "cluster");
    assert.deepEqual(config.cluster?.redis, {
      kind: "cluster",
      nodes: [
        { host: "127.0.0.1", port: 7000 },
        { host: "redis-b", port: 7001 },
        { host: "::1", port: 7002 },
      ],
    });
    assert.equal(loadConfig(cluster).cluster?.redis.kind, "server");
    assert.equal(loadConfig(cluster).amqpQueueType, "classic");
    assert.equal(loadConfig({ ...cluster, AMQP_QUEUE_TYPE: "quorum" }).amqpQueueType, "quorum");
  });

  it("names the variable that is wrong", () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ PORT: "eighty" }, "PORT", /whole number/],
      [{ PORT: "70000" }, "PORT", /between 0 and 65535/],
      [{ ...cluster, MYSQL_URL: "not a url" }, "MYSQL_URL", /not a valid URL/],
      [{ ...cluster, REDIS_URL: "http://127.0.0.1:6379" }, "REDIS_URL", /redis:/],
      [{ ...cluster, AMQP_URL: "amqp://h:notaport" }, "AMQP_URL", /not a valid URL|port/],
      [{ MYSQL_URL: cluster.MYSQL_URL }, "REDIS_URL or REDIS_CLUSTER_NODES", /required in cluster mode/],
      [{ ...cluster, REDIS_CLUSTER_NODES: "127.0.0.1:7000" }, "REDIS_CLUSTER_NODES", /exactly one/],
      [{ ...cluster, REDIS_URL: "", REDIS_CLUSTER_NODES: "127.0.0.1:7000,127.0.0.1" }, "REDIS_CLUSTER_NODES", /host:port/],
      [{ ...cluster, REDIS_URL: "", REDIS_CLUSTER_NODES: "127.0.0.1:0" }, "REDIS_CLUSTER_NODES", /host:port/],
      [{ AMQP_QUEUE_TYPE: "stream" }, "AMQP_QUEUE_TYPE", /one of classic, quorum/],
      [{ LOG_LEVEL: "loud" }, "LOG_LEVEL", /one of/],
      [{ ADMIN_KEY: "short" }, "ADMIN_KEY", /must match/],
      [{ METRICS_KEY: "short" }, "METRICS_KEY", /must match/],
      [{ WORKER_METRICS_PORT: "9x" }, "WORKER_METRICS_PORT", /whole number/],
      [{ WS_MAX_SUBSCRIPTIONS: "0" }, "WS_MAX_SUBSCRIPTIONS", /between/],
    ];
    for (const [env, variable, message] of cases) {
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && err.variable === variable && message.test(err.message),
        variable,
      );
    }
  });

  it("makes the CLI exit non-zero with one line naming the variable", async () => {
    for (const [env, variable] of [
      [{ PORT: "abc" }, "PORT"],
      [{ ...cluster, MYSQL_URL: "::::" }, "MYSQL_URL"],
    ] as const) {
      const { code, output } = await runCli(["serve"], { ...env });
      assert.equal(code, 2);
      const lines = output.trim().split("\n").filter((l) => !l.startsWith("npm warn"));
      assert.equal(lines.length, 1, output);
      assert.match(lines[0]!, new RegExp(`^invalid configuration: ${variable} `));
    }
  });
});
