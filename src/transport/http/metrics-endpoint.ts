import type { TemplatedApp } from "uWebSockets.js";
import type { Registry } from "prom-client";
import { metricsAccess, UNAUTHORIZED_BODY } from "../../metrics/metrics-access.js";

/** `GET /metrics`: Prometheus text, behind `Authorization: Bearer $METRICS_KEY` when one is configured. */
export function mountMetrics(app: TemplatedApp, registry: Registry, key: string | null): void {
  const allowed = metricsAccess(key);
  app.get("/metrics", (res, req) => {
    if (!allowed(req.getHeader("authorization"))) {
      res.cork(() => res.writeStatus("401 Unauthorized").writeHeader("Content-Type", "application/json").writeHeader("WWW-Authenticate", "Bearer").end(UNAUTHORIZED_BODY));
      return;
    }
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    registry.metrics().then(
      (text) => !aborted && res.cork(() => res.writeStatus("200 OK").writeHeader("Content-Type", registry.contentType).end(text)),
      () => !aborted && res.cork(() => res.writeStatus("500 Internal Server Error").end()),
    );
  });
}
