import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type uWS from "uWebSockets.js";
import type { Backends } from "./compose/backends.js";
import type { Config } from "./config.js";
import { ChatService, type LiveEvent } from "./domain/chat-service.js";
import { RateLimiter } from "./domain/rate-limiter.js";
import { CounterRecovery } from "./domain/recovery.js";
import type { Logger } from "./log.js";
import { ApiMetrics } from "./metrics/api-metrics.js";
import { demoPageAssets, mountDemoPage } from "./transport/http/demo-page.js";
import { mountHttp } from "./transport/http/http-server.js";
import { mountMetrics } from "./transport/http/metrics-endpoint.js";
import { nativeUws } from "./transport/uws.js";
import { framesSent } from "./transport/ws/frames-sent.js";
import { mountRealtime } from "./transport/ws/ws-server.js";

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

/** 128 bits from the CSPRNG, URL-safe (22 characters). */
export const newToken = (): string => randomBytes(16).toString("base64url");

export function createService(config: Config, backends: Backends, onLive: (event: LiveEvent) => void): ChatService {
  const recovery = new CounterRecovery(
    backends.sequencer,
    backends.queue,
    backends.heartbeats,
    backends.lock,
    { publishTimeoutMs: config.publishTimeoutMs, pollMs: 1000 },
    (ms) => sleep(ms),
  );
  // A fresh or emptied Redis has no epoch: start the fence now, not on the first request.
  void backends.sequencer.hasEpoch().then((ok) => ok || recovery.trigger(), () => undefined);
  return new ChatService({
    store: backends.store,
    sequencer: backends.sequencer,
    queue: backends.queue,
    recent: backends.recent,
    search: backends.search,
    recovery,
    newToken,
    now: Date.now,
    onLive,
    maxBatch: config.maxBatch,
  });
}

/** The API role: REST and WebSocket on one uWS app. */
export async function startServer(config: Config, backends: Backends, log: Logger): Promise<RunningServer> {
  const uws = nativeUws();
  const app = uws.App();
  let onLive: (event: LiveEvent) => void = () => undefined;
  const metrics = new ApiMetrics({ connections: () => realtime.stats().connections, framesSent });
  const service = createService(config, backends, (event) => {
    metrics.live(event);
    onLive(event);
  });
  mountDemoPage(app, await demoPageAssets());
  mountMetrics(app, metrics.registry, config.metricsKey);
  mountHttp(app, {
    service,
    adminKey: config.adminKey,
    rateLimiter: new RateLimiter(config.createsPerSecondPerToken, Date.now),
    readiness: backends.readiness,
    log,
    requests: metrics,
  });
  const realtime = mountRealtime(app, { service, bus: backends.bus, limits: config.ws, log });
  onLive = realtime.onLive;
  const listenSocket = await listen(app, config.host, config.port);
  const port = uws.us_socket_local_port(listenSocket as unknown as uWS.us_socket);
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      // Idempotent: closing a uWS listen socket twice is undefined behaviour.
      closing ??= (async () => {
        uws.us_listen_socket_close(listenSocket);
        await realtime.close();
      })();
      return closing;
    },
  };
}

function listen(app: uWS.TemplatedApp, host: string, port: number): Promise<uWS.us_listen_socket> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => (socket ? resolve(socket) : reject(new Error(`cannot listen on ${host}:${port}`))));
  });
}
