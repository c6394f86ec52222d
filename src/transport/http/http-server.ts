import { timingSafeEqual } from "node:crypto";
import type { HttpRequest, HttpResponse, TemplatedApp } from "uWebSockets.js";
import type { ChatService } from "../../domain/chat-service.js";
import type { AccessControl } from "../../domain/access-control.js";
import type { PresenceService } from "../../domain/presence-service.js";
import type { ReadMarkerService } from "../../domain/read-marker-service.js";
import { CredentialRefused, DomainError, tooManyCreates, UnavailableError } from "../../domain/errors.js";
import { limits } from "../../domain/limits.js";
import type { RateLimiter } from "../../domain/rate-limiter.js";
import type { Logger } from "../../log.js";
import type { OriginPolicy } from "../origin-policy.js";
import { DISCARD_MAX_BYTES, discardBody, parseBody, readBody } from "./body.js";
import { buildOpenApi } from "./openapi.js";
import { Router } from "./router.js";
import type { RequestObserver, ResponseDone } from "./response-observer.js";
import { buildRoutes, type RouteRequest } from "./routes.js";
import { statusLine, statusOfCode } from "./status.js";

/** Thrown by a readiness check to name why it is not ready (any other failure reads "unreachable"). */
export class NotReady extends Error {}

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface HttpDeps {
  service: ChatService;
  access: AccessControl;
  readMarkers: ReadMarkerService;
  presence: PresenceService;
  /** CORS: which browser origins may call the API. */
  origins: OriginPolicy;
  adminKey: string | null;
  rateLimiter: RateLimiter;
  readiness: ReadinessCheck[];
  log: Logger;
  /** Request metrics, by route pattern. */
  requests?: RequestObserver;
}

export interface HttpServer {
  /** Shutdown began: from now on every request is answered 503, and every answer asks the client to close. */
  drain(): void;
  /** Resolves once no request is in flight. */
  idle(): Promise<void>;
}

const JSON_TYPE = "application/json";
const READINESS_TIMEOUT_MS = 1000;

/**
 * How an answer ends its connection. "now": uWS closes right after writing it
 * (when nothing of the request is left unread, or its framing cannot be
 * trusted). "ask": the answer says `Connection: close` and the client closes
 * (shutdown: a request body may still be arriving, and closing under unread
 * bytes makes the kernel reset the connection, which can destroy the answer
 * before the client reads it).
 */
type Close = "now" | "ask";

interface Answer {
  retryAfter?: number;
  headers?: Record<string, string>;
  close?: Close;
}

/** Mounts the REST API, health endpoints and OpenAPI document on a uWS app. */
export function mountHttp(app: TemplatedApp, deps: HttpDeps): HttpServer {
  const routes = buildRoutes({ service: deps.service, access: deps.access, readMarkers: deps.readMarkers, presence: deps.presence, checkAdmin: adminCheck(deps.adminKey) });
  const router = new Router(routes);
  const openapi = JSON.stringify(buildOpenApi(routes));
  let draining = false;
  let inFlight = 0;
  let idleWaiters: (() => void)[] = [];

  /** One request's response side. */
  class Exchange {
    aborted = false;
    /** Told the status once the answer is sent (request metrics). */
    done: ResponseDone | undefined;
    /** CORS headers every answer to this request carries (none unless its Origin is allowed). */
    cors: Record<string, string> = {};
    constructor(
      readonly res: HttpResponse,
      /** HEAD: the same status and headers as GET, no body. */
      readonly head: boolean,
    ) {}

    /** For answers given after the handler returned; counts the request as in flight until then. */
    async(): this {
      this.res.onAborted(() => {
        this.aborted = true;
      });
      inFlight++;
      return this;
    }

    settle(): void {
      if (--inFlight > 0) return;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    }

    send(status: number, json: string, answer: Answer = {}): void {
      this.done?.(status);
      this.done = undefined;
      if (this.aborted) return;
      const close = answer.close ?? (draining ? "ask" : undefined);
      const res = this.res;
      res.cork(() => {
        res.writeStatus(statusLine[status] ?? String(status));
        for (const [name, value] of Object.entries({ ...this.cors, ...answer.headers })) res.writeHeader(name, value);
        if (status === 204) {
          if (close === "ask") res.writeHeader("Connection", "close");
          return void (close === "now" ? res.endWithoutBody(0, true) : res.endWithoutBody());
        }
        res.writeHeader("Content-Type", JSON_TYPE);
        if (answer.retryAfter !== undefined) res.writeHeader("Retry-After", String(answer.retryAfter));
        // "now" makes uWS write the Connection header itself.
        if (close === "ask") res.writeHeader("Connection", "close");
        if (!this.head) {
          res.end(json, close === "now");
        } else if (close === "now") {
          // This uWS can only pair a reported length with a close as 0 (endWithoutBody(n) with n > 0 never completes).
          res.endWithoutBody(0, true);
        } else {
          res.writeHeader("Content-Length", String(Buffer.byteLength(json)));
          res.endWithoutBody();
        }
      });
    }

    /**
     * Errors never carry a stack or an internal id: only a code and a message.
     * Anything that is not a domain error is a backend that failed mid-request,
     * so the client gets 503 and may retry.
     */
    fail(err: unknown, answer: Answer = {}): void {
      const error = err instanceof DomainError ? err : new UnavailableError("a backend is unavailable; retry shortly");
      const body = { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
      const retryAfter = error instanceof UnavailableError ? error.retryAfterSeconds : undefined;
      this.send(statusOfCode[error.code], JSON.stringify(body), { retryAfter, ...answer });
    }
  }

  const builtIn: Record<string, (ex: Exchange) => void> = {
    "/healthz": (ex) => ex.send(200, '{"status":"ok"}'),
    "/readyz": (ex) => {
      ex.async();
      void readiness(deps.readiness)
        .then(({ ok, body }) => ex.send(ok ? 200 : 503, JSON.stringify(body), ok ? {} : { retryAfter: 5 }))
        .finally(() => ex.settle());
    },
    "/api/v1/openapi.json": (ex) => ex.send(200, openapi),
  };

  app.any("/*", (res, req) => {
    // Methods are case-sensitive; uWS itself only routes the nine standard upper-case ones here.
    const method = req.getCaseSensitiveMethod();
    const head = method === "HEAD";
    const ex = new Exchange(res, head);
    const path = req.getUrl();
    const malformed = malformation(req, path);
    if (malformed) return ex.send(400, JSON.stringify({ error: { code: "bad_request", message: malformed } }), { close: "now" });
    if (draining) return ex.fail(new UnavailableError("the server is shutting down; retry on a new connection"), { close: "ask" });

    const builtInRoute = method === "GET" || head ? builtIn[path] : undefined;
    if (builtInRoute) return builtInRoute(ex);
    const match = router.match(head ? "GET" : method, path);
    if (deps.requests) ex.done = deps.requests.started(method, match && "route" in match ? match.route.path : "(unmatched)");
    const origin = req.getHeader("origin");
    ex.cors = deps.origins.responseHeaders(origin);
    if (!match) return ex.fail(new DomainError("not_found", "no such endpoint"));
    if (!("route" in match)) {
      const preflight = method === "OPTIONS" && req.getHeader("access-control-request-method") !== "" ? deps.origins.preflightHeaders(origin, match.allowed) : null;
      if (preflight) return ex.send(204, "", { headers: preflight });
      return ex.fail(new DomainError("method_not_allowed", `use ${match.allowed.join(", ")}`), { headers: { Allow: match.allowed.join(", ") } });
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
    const hasBody = route.method !== "GET";

    if (hasBody && declaredLength > limits.requestMaxBytes + DISCARD_MAX_BYTES) {
      // Too much to read and drop first (see readBody): answer now, even if a reset may cost the client the answer.
      return ex.fail(new DomainError("payload_too_large", `the request body must be at most ${limits.requestMaxBytes} bytes`), { close: "now" });
    }
    if (route.creates) {
      const wait = deps.rateLimiter.take(params.token ?? "");
      if (wait > 0) return ex.fail(new DomainError("rate_limited", "too many creates for this application"), { retryAfter: wait });
    }

    ex.async();
    // Past the bound, refuse before the body is parsed and validated or the
    // credential checked, so a refusal costs a fraction of an acceptance and
    // the process keeps up with refusing under overload. The domain's own
    // check stays the authority for creates admitted here.
    const refused = route.creates && !deps.service.acceptingCreates();
    const run = async (): Promise<void> => {
      if (refused) {
        await discardBody(res, limits.requestMaxBytes); // read to its end, so the connection stays usable
        throw tooManyCreates();
      }
      if (hasBody) request.body = parseBody(await readBody(res, limits.requestMaxBytes), contentType);
      const result = await route.handle(request);
      ex.send(result.status, JSON.stringify(result.body));
    };
    run()
      .catch((err: unknown) => {
        if (ex.aborted) return;
        // Refusals are logged with their reason only: never the credential.
        if (err instanceof CredentialRefused) deps.log.info({ method, route: route.path, reason: err.reason }, "credential refused");
        else if (!(err instanceof DomainError)) deps.log.error({ err, method, route: route.path }, "request failed");
        // readBody fails a too-large body only once it has read all of it: closing now resets nothing,
        // and a following request on the connection could not be told from the rest of that body anyway.
        ex.fail(err, err instanceof DomainError && err.code === "payload_too_large" ? { close: "now" } : {});
      })
      .finally(() => ex.settle());
  });

  return {
    drain() {
      draining = true;
    },
    idle() {
      return inFlight === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
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

/**
 * What uWS lets through but HTTP/1.1 forbids (RFC 9112 §3.2, §6.3): an empty or
 * repeated Host, a repeated Content-Length (the body's framing is ambiguous),
 * and a backslash in the target (some proxies read it as a slash). uWS itself
 * closes a request without Host before any handler runs.
 */
function malformation(req: HttpRequest, path: string): string | null {
  if (path.includes("\\")) return "the request target must not contain a backslash";
  let hosts = 0;
  let lengths = 0;
  req.forEach((key) => {
    if (key === "host") hosts++;
    else if (key === "content-length") lengths++;
  });
  if (hosts !== 1 || req.getHeader("host") === "") return "exactly one non-empty Host header is required";
  if (lengths > 1) return "at most one Content-Length header is allowed";
  return null;
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
        return { name, up: true, reason: "" };
      } catch (err) {
        return { name, up: false, reason: err instanceof NotReady ? err.message : `${name} is unreachable` };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const down = results.filter((r) => !r.up);
  const checksBody = Object.fromEntries(results.map((r) => [r.name, r.up ? "up" : "down"]));
  if (down.length === 0) return { ok: true, body: { status: "ready", checks: checksBody, down: [] } };
  return { ok: false, body: { status: "unavailable", checks: checksBody, down: down.map((r) => r.name), reason: down.map((r) => r.reason).join("; ") } };
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
