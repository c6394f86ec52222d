import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { metricsAccess, UNAUTHORIZED_BODY } from "../metrics/metrics-access.js";

export interface MetricsListener {
  port: number;
  close(): Promise<void>;
}

/**
 * The worker serves no HTTP otherwise, so its metrics get a listener of
 * their own (WORKER_METRICS_PORT): `GET /metrics` and nothing else.
 */
export async function listenMetrics(registry: Registry, host: string, port: number, key: string | null): Promise<MetricsListener> {
  const allowed = metricsAccess(key);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "Content-Type": "application/json" }).end(JSON.stringify({ error: { code: "not_found", message: "only GET /metrics is served here" } }));
      return;
    }
    if (!allowed(req.headers.authorization)) {
      res.writeHead(401, { "Content-Type": "application/json", "WWW-Authenticate": "Bearer" }).end(UNAUTHORIZED_BODY);
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "Content-Type": registry.contentType }).end(req.method === "HEAD" ? undefined : text),
      () => res.writeHead(500).end(),
    );
  });
  server.listen(port, host);
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
