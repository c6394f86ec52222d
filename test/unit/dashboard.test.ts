import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { ApiMetrics } from "../../src/metrics/api-metrics.js";
import { WorkerMetrics } from "../../src/metrics/worker-metrics.js";

// The Grafana dashboard and the Prometheus scrape config name metrics and
// ports by hand: check them against what the code exposes, so they cannot drift.
const read = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), "utf8");

describe("deploy/: dashboard and scrape config", () => {
  it("queries only metrics the API and the worker expose", async () => {
    const exposed = new Set(
      [new ApiMetrics({ connections: () => 0, framesSent: () => 0 }).registry, new WorkerMetrics().registry].flatMap((r) => r.getMetricsAsArray().map((m) => m.name)),
    );
    const dashboard = JSON.parse(await read("deploy/grafana/dashboards/chat-backend.json")) as { panels: { targets: { expr: string }[] }[] };
    const queried = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\b(chat|process|nodejs)_\w+/g) ?? []));
    assert.ok(queried.length > 10);
    for (const name of queried) assert.ok(exposed.has(name.replace(/_(bucket|count|sum)$/, "")), `${name} is exposed`);
  });

  it("scrapes with the key and worker port docker-compose.yml configures", async () => {
    const [compose, prometheus] = await Promise.all([read("docker-compose.yml"), read("deploy/prometheus.yml")]);
    const key = /METRICS_KEY: (\S+)/.exec(compose)![1]!;
    assert.equal([...prometheus.matchAll(/credentials: (\S+)/g)].filter((m) => m[1] === key).length, 2);
    const workerPort = /WORKER_METRICS_PORT: "(\d+)"/.exec(compose)![1]!;
    assert.match(prometheus, new RegExp(`"worker:${workerPort}"`));
  });
});
