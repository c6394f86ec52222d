import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type uWS from "uWebSockets.js";
import { JoseUserTokens } from "./adapters/jose/jose-user-tokens.js";
import type { Backends } from "./compose/backends.js";
import type { Config } from "./config.js";
import { AccessControl } from "./domain/access-control.js";
import { ChatService } from "./domain/chat-service.js";
import { PresenceService } from "./domain/presence-service.js";
import { ReadMarkerService, type ReadMarkerDeps } from "./domain/read-marker-service.js";
import type { Chat } from "./domain/types.js";
import { RateLimiter } from "./domain/rate-limiter.js";
import { CounterRecovery } from "./domain/recovery.js";
import type { Logger } from "./log.js";
import type { CreateObserver } from "./ports/create-observer.js";
import { ApiMetrics } from "./metrics/api-metrics.js";
import { demoPageAssets, mountDemoPage } from "./transport/http/demo-page.js";
import { mountHttp, NotReady } from "./transport/http/http-server.js";
import { mountMetrics } from "./transport/http/metrics-endpoint.js";
import { OriginPolicy } from "./transport/origin-policy.js";
import { nativeUws } from "./transport/uws.js";
import { framesSent } from "./transport/ws/frames-sent.js";
import { mountRealtime, type Realtime } from "./transport/ws/ws-server.js";

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

function createRecovery(config: Config, backends: Backends, log: Logger): CounterRecovery {
  return new CounterRecovery(
    backends.sequencer,
    backends.queue,
    backends.heartbeats,
    backends.lock,
    { publishTimeoutMs: config.publishTimeoutMs, pollMs: 1000, onError: (err) => log.warn({ err }, "counter recovery failed; retrying") },
    (ms) => sleep(ms),
  );
}

export function createService(config: Config, backends: Backends, recovery: CounterRecovery, hooks: ServiceHooks): ChatService {
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
  const recovery = createRecovery(config, backends, log);
  const service = createService(config, backends, recovery, { onChatCreated: (chat) => onChatCreated(chat), observer: metrics });
  mountDemoPage(app, await demoPageAssets());
  mountMetrics(app, metrics.registry, config.metricsKey);
  const access = new AccessControl({ store: backends.store, tokens: new JoseUserTokens(), newSecret, secretGraceMs: config.secretGraceSeconds * 1000, now: Date.now });
  const origins = new OriginPolicy(config.corsOrigins);
  let onReadMarker: ReadMarkerDeps["onMarked"] = () => undefined;
  const readMarkers = new ReadMarkerService({
    chats: service,
    store: backends.store,
    recent: backends.readMarkers,
    queue: backends.queue,
    now: Date.now,
    onMarked: (...event) => onReadMarker(...event),
  });
  let onPresence: Realtime["onPresence"] = () => undefined;
  let watchedChats: Realtime["watchedChats"] = () => [];
  const presence = new PresenceService({
    presence: backends.presence,
    chats: service,
    process: randomUUID(),
    ttlMs: config.presenceTtlSeconds * 1000,
    watched: () => watchedChats(),
    onJoined: (...event) => onPresence("joined", ...event),
    onLeft: (...event) => onPresence("left", ...event),
    onError: (err) => log.warn({ err }, "presence update failed; the next refresh repairs it"),
  });
  const http = mountHttp(app, {
    service,
    access,
    readMarkers,
    presence,
    origins,
    adminKey: config.adminKey,
    rateLimiter: new RateLimiter(config.createsPerSecondPerToken, Date.now),
    readiness: [...backends.readiness, numberingCheck(backends, recovery)],
    log,
    requests: metrics,
  });
  const realtime = mountRealtime(app, { service, access, readMarkers, presence, origins, bus: backends.bus, limits: config.ws, log });
  onChatCreated = realtime.onChatCreated;
  onReadMarker = realtime.onReadMarker;
  onPresence = realtime.onPresence;
  watchedChats = realtime.watchedChats;
  presence.start();
  const listenSocket = await listen(app, config.host, config.port);
  const port = uws.us_socket_local_port(listenSocket as unknown as uWS.us_socket);
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      // Idempotent: closing a uWS listen socket twice is undefined behaviour.
      closing ??= (async () => {
        uws.us_listen_socket_close(listenSocket);
        http.drain();
        await realtime.close(); // sockets close first: their users leave presence
        presence.close();
        let timer: NodeJS.Timeout | undefined;
        const gaveUp = await Promise.race([
          http.idle().then(() => false),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), config.shutdownTimeoutMs))),
        ]);
        clearTimeout(timer);
        if (gaveUp) log.warn({ timeoutMs: config.shutdownTimeoutMs }, "shutdown: requests still in flight after SHUTDOWN_TIMEOUT_MS; closing anyway");
      })();
      return closing;
    },
  };
}

/**
 * Creates answer 503 while the sequencer has no epoch (counter recovery), so
 * the process is not ready then. The check also starts the recovery: a load
 * balancer that stops sending traffic to an unready process must not leave
 * the fence waiting for a create to notice it.
 */
function numberingCheck(backends: Backends, recovery: CounterRecovery): { name: string; check: () => Promise<void> } {
  return {
    name: "numbering",
    async check() {
      if (await backends.sequencer.hasEpoch()) return;
      recovery.trigger();
      throw new NotReady("numbering is recovering");
    },
  };
}

/** The typings lack the (host, port, options, callback) form the native listen takes. */
type ListenWithOptions = (host: string, port: number, options: number, cb: (socket: uWS.us_listen_socket | false) => void) => void;

function listen(app: uWS.TemplatedApp, host: string, port: number): Promise<uWS.us_listen_socket> {
  return new Promise((resolve, reject) => {
    // Exclusive: uSockets sets SO_REUSEPORT by default, so a second process on a
    // taken port would silently share it instead of failing.
    const exclusive = 1; // LIBUS_LISTEN_EXCLUSIVE_PORT
    (app.listen as unknown as ListenWithOptions).call(app, host, port, exclusive, (socket) =>
      socket ? resolve(socket) : reject(new Error(`cannot listen on ${host}:${port}: the port is taken or the address is not available`)),
    );
  });
}
