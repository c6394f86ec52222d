import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type uWS from "uWebSockets.js";
import { JoseUserTokens } from "./adapters/jose/jose-user-tokens.js";
import type { Backends } from "./compose/backends.js";
import type { Config } from "./config.js";
import { AccessControl } from "./domain/access-control.js";
import { ChatService } from "./domain/chat-service.js";
import type { Chat } from "./domain/types.js";
import { RateLimiter } from "./domain/rate-limiter.js";
import { CounterRecovery } from "./domain/recovery.js";
import type { Logger } from "./log.js";
import type { CreateObserver } from "./ports/create-observer.js";
import { ApiMetrics } from "./metrics/api-metrics.js";
import { demoPageAssets, mountDemoPage } from "./transport/http/demo-page.js";
import { mountHttp } from "./transport/http/http-server.js";
import { mountMetrics } from "./transport/http/metrics-endpoint.js";
import { OriginPolicy } from "./transport/origin-policy.js";
import { nativeUws } from "./transport/uws.js";
import { framesSent } from "./transport/ws/frames-sent.js";
import { mountRealtime } from "./transport/ws/ws-server.js";

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

/** 128 bits from the CSPRNG, URL-safe (22 characters). */
export const newToken = (): string => randomBytes(16).toString("base64url");

/** An application secret: 256 bits from the CSPRNG, URL-safe (43 characters). */
export const newSecret = (): string => randomBytes(32).toString("base64url");

/** What the service tells the rest of the process: new chats (for realtime) and create metrics. */
export interface ServiceHooks {
  onChatCreated: (chat: Chat) => void;
  observer: CreateObserver;
}

export function createService(config: Config, backends: Backends, log: Logger, hooks: ServiceHooks): ChatService {
  const recovery = new CounterRecovery(
    backends.sequencer,
    backends.queue,
    backends.heartbeats,
    backends.lock,
    { publishTimeoutMs: config.publishTimeoutMs, pollMs: 1000, onError: (err) => log.warn({ err }, "counter recovery failed; retrying") },
    (ms) => sleep(ms),
  );
  // A fresh or emptied Redis has no epoch: start the fence now, not on the first request.
  void backends.sequencer.hasEpoch().then((ok) => ok || recovery.trigger(), () => undefined);
  return new ChatService({
    store: backends.store,
    sequencer: backends.sequencer,
    chatLog: backends.chatLog,
    queue: backends.queue,
    recentChats: backends.recentChats,
    search: backends.search,
    recovery,
    newToken,
    now: Date.now,
    onChatCreated: hooks.onChatCreated,
    observer: hooks.observer,
    maxBatch: config.maxBatch,
    maxInflightCreates: config.maxInflightCreates,
  });
}

/** The API role: REST and WebSocket on one uWS app. */
export async function startServer(config: Config, backends: Backends, log: Logger): Promise<RunningServer> {
  const uws = nativeUws();
  const app = uws.App();
  let onChatCreated: (chat: Chat) => void = () => undefined;
  const metrics = new ApiMetrics({ connections: () => realtime.stats().connections, framesSent });
  const service = createService(config, backends, log, { onChatCreated: (chat) => onChatCreated(chat), observer: metrics });
  mountDemoPage(app, await demoPageAssets());
  mountMetrics(app, metrics.registry, config.metricsKey);
  const access = new AccessControl({ store: backends.store, tokens: new JoseUserTokens(), newSecret, secretGraceMs: config.secretGraceSeconds * 1000, now: Date.now });
  const origins = new OriginPolicy(config.corsOrigins);
  mountHttp(app, {
    service,
    access,
    origins,
    adminKey: config.adminKey,
    rateLimiter: new RateLimiter(config.createsPerSecondPerToken, Date.now),
    readiness: backends.readiness,
    log,
    requests: metrics,
  });
  const realtime = mountRealtime(app, { service, access, origins, bus: backends.bus, limits: config.ws, log });
  onChatCreated = realtime.onChatCreated;
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
