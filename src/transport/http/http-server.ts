import { timingSafeEqual } from "node:crypto";
import type { HttpRequest, HttpResponse, TemplatedApp } from "uWebSockets.js";
import type { ChatService } from "../../domain/chat-service.js";
import type { AccessControl } from "../../domain/access-control.js";
import { CredentialRefused, DomainError, UnavailableError } from "../../domain/errors.js";
import { limits } from "../../domain/limits.js";
import type { RateLimiter } from "../../domain/rate-limiter.js";
import type { Logger } from "../../log.js";
import type { OriginPolicy } from "../origin-policy.js";
import { parseBody, readBody } from "./body.js";
import { buildOpenApi } from "./openapi.js";
import { Router } from "./router.js";
import { observeResponse, reportResponse, type RequestObserver } from "./response-observer.js";
import { buildRoutes, type RouteRequest } from "./routes.js";
import { statusLine, statusOfCode } from "./status.js";

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface HttpDeps {
  service: ChatService;
  access: AccessControl;
  /** CORS: which browser origins may call the API. */
  origins: OriginPolicy;
  adminKey: string | null;
  rateLimiter: RateLimiter;
  readiness: ReadinessCheck[];
  log: Logger;
  /** Request metrics, by route pattern. */
  requests?: RequestObserver;
}

const JSON_TYPE = "application/json";
const READINESS_TIMEOUT_MS = 1000;

/** Mounts the REST API, health endpoints and OpenAPI document on a uWS app. */
export function mountHttp(app: TemplatedApp, deps: HttpDeps): void {
  const routes = buildRoutes({ service: deps.service, access: deps.access, checkAdmin: adminCheck(deps.adminKey) });
  const router = new Router(routes);
  const openapi = JSON.stringify(buildOpenApi(routes));

  app.get("/healthz", (res) => send(res, 200, '{"status":"ok"}'));
  app.get("/readyz", (res) => {
    const state = watch(res);
    void readiness(deps.readiness).then(({ ok, body }) => !state.aborted && send(res, ok ? 200 : 503, JSON.stringify(body), ok ? undefined : 5));
  });
  app.get("/api/v1/openapi.json", (res) => send(res, 200, openapi));

  app.any("/*", (res, req) => {
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const path = req.getUrl();
    const match = router.match(method, path);
    if (deps.requests) observeResponse(res, deps.requests.started(method, match && "route" in match ? match.route.path : "(unmatched)"));
    const origin = req.getHeader("origin");
    const cors = deps.origins.responseHeaders(origin);
    if (!match) return sendError(res, new DomainError("not_found", "no such endpoint"), cors);
    if (!("route" in match)) {
      const preflight = method === "OPTIONS" && req.getHeader("access-control-request-method") !== "" ? deps.origins.preflightHeaders(origin, match.allowed) : null;
      if (preflight) return send(res, 204, "", undefined, preflight);
      return sendError(res, new DomainError("method_not_allowed", `use ${match.allowed.join(", ")}`), { ...cors, Allow: match.allowed.join(", ") });
    }
    const { route, params } = match;
    const request: RouteRequest = {
      params,
      query: Object.fromEntries(new URLSearchParams(req.getQuery() ?? "")),
      body: undefined,
      authorization: req.getHeader("authorization"),
      idempotencyKey: method === "POST" ? headerOrNull(req, "idempotency-key") : null,
    };
    const contentType = req.getHeader("content-type");
    const declaredLength = Number(req.getHeader("content-length") || 0);
    const state = watch(res);
    const hasBody = method !== "GET";

    if (hasBody && declaredLength > limits.requestMaxBytes) {
      return sendError(res, new DomainError("payload_too_large", `the request body must be at most ${limits.requestMaxBytes} bytes`), cors);
    }
    if (route.rateLimited) {
      const wait = deps.rateLimiter.take(params.token ?? "");
      if (wait > 0) return sendError(res, new DomainError("rate_limited", "too many creates for this application"), { ...cors, "Retry-After": String(wait) });
    }

    const run = async (): Promise<void> => {
      if (hasBody) request.body = parseBody(await readBody(res, limits.requestMaxBytes), contentType);
      const result = await route.handle(request);
      if (!state.aborted) send(res, result.status, result.status === 204 ? "" : JSON.stringify(result.body), undefined, cors);
    };
    run().catch((err: unknown) => {
      if (state.aborted) return;
      // Refusals are logged with their reason only: never the credential.
      if (err instanceof CredentialRefused) deps.log.info({ method, route: route.path, reason: err.reason }, "credential refused");
      else if (!(err instanceof DomainError)) deps.log.error({ err, method, route: route.path }, "request failed");
      sendError(res, err, cors);
    });
  });
}

/**
 * A header's value, or null when it is absent. uWS reads a value that is not
 * valid UTF-8 as "", so an empty value is looked up again to tell "sent but
 * unreadable" (a bad value, for the caller to refuse) from "not sent".
 */
function headerOrNull(req: HttpRequest, name: string): string | null {
  const value = req.getHeader(name);
  if (value !== "") return value;
  let present = false;
  req.forEach((key) => {
    if (key === name) present = true;
  });
  return present ? "" : null;
}

function watch(res: HttpResponse): { aborted: boolean } {
  const state = { aborted: false };
  res.onAborted(() => {
    state.aborted = true;
  });
  return state;
}

function send(res: HttpResponse, status: number, json: string, retryAfter?: number, headers?: Record<string, string>): void {
  reportResponse(res, status);
  res.cork(() => {
    res.writeStatus(statusLine[status] ?? String(status));
    if (status === 204) {
      for (const [name, value] of Object.entries(headers ?? {})) res.writeHeader(name, value);
      return void res.endWithoutBody();
    }
    res.writeHeader("Content-Type", JSON_TYPE);
    if (retryAfter !== undefined) res.writeHeader("Retry-After", String(retryAfter));
    for (const [name, value] of Object.entries(headers ?? {})) res.writeHeader(name, value);
    // After a 413 the rest of the body is unread: close rather than parse it as a request.
    res.end(json, status === 413);
  });
}

/**
 * Errors never carry a stack or an internal id: only a code and a message.
 * Anything that is not a domain error is a backend that failed mid-request,
 * so the client gets 503 and may retry.
 */
function sendError(res: HttpResponse, err: unknown, headers?: Record<string, string>): void {
  const error = err instanceof DomainError ? err : new UnavailableError("a backend is unavailable; retry shortly");
  const body = { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
  const retryAfter = error instanceof UnavailableError ? error.retryAfterSeconds : undefined;
  send(res, statusOfCode[error.code], JSON.stringify(body), retryAfter, headers);
}

async function readiness(checks: ReadinessCheck[]): Promise<{ ok: boolean; body: unknown }> {
  const results = await Promise.all(
    checks.map(async ({ name, check }) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error("timeout")), READINESS_TIMEOUT_MS);
          }),
        ]);
        return [name, "up"] as const;
      } catch {
        return [name, "down"] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const down = results.filter(([, s]) => s === "down").map(([n]) => n);
  return { ok: down.length === 0, body: { status: down.length === 0 ? "ready" : "unavailable", checks: Object.fromEntries(results), down } };
}

function adminCheck(adminKey: string | null): (authorization: string) => void {
  const expected = adminKey ? Buffer.from(`Bearer ${adminKey}`) : null;
  return (authorization) => {
    if (!expected) throw new DomainError("forbidden", "listing applications is disabled: no ADMIN_KEY is configured");
    const given = Buffer.from(authorization);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new DomainError("unauthorized", "a valid admin bearer key is required");
    }
  };
}

