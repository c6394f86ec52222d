import type { JSONSchemaType } from "ajv";
import type { ChatService, Created } from "../../domain/chat-service.js";
import { idempotencyKeyRule, isIdempotencyKey } from "../../domain/idempotency-key.js";
import { DomainError, notFound } from "../../domain/errors.js";
import { clampLimit, limits, parseNumber } from "../../domain/limits.js";
import type { MessageRange, Page } from "../../domain/types.js";
import { applicationJson, chatJson, messageJson, searchHitJson } from "../representations.js";
import * as schemas from "./schemas.js";
import { bodyValidator, queryValidator, type Validator } from "./validation.js";

export type Method = "GET" | "POST" | "PUT" | "PATCH";

export interface RouteRequest {
  params: Record<string, string>;
  query: Record<string, string>;
  body: unknown;
  authorization: string;
  /** The Idempotency-Key header, null when absent ("" when sent but unreadable). */
  idempotencyKey: string | null;
}

export interface RouteResult {
  status: number;
  body: unknown;
}

export interface Route {
  method: Method;
  /** Segments starting with ":" are parameters. */
  path: string;
  summary: string;
  status: number;
  /** Name in `responseSchemas`, optionally as a page (`Page<...>`). */
  response: string;
  bodySchema?: JSONSchemaType<unknown>;
  querySchema?: JSONSchemaType<unknown>;
  /** Creates consume the per-token rate limit. */
  rateLimited?: boolean;
  handle(request: RouteRequest): Promise<RouteResult>;
}

export interface RouteDeps {
  service: ChatService;
  /** Throws unless the Authorization header carries the admin key. */
  checkAdmin: (authorization: string) => void;
}

/** Every REST endpoint (docs/API.md; health endpoints live in the server). */
export function buildRoutes({ service, checkAdmin }: RouteDeps): Route[] {
  const routes: Route[] = [];
  const add = <B, Q>(
    method: Method | Method[],
    path: string,
    meta: { summary: string; status?: number; response: string; body?: JSONSchemaType<B>; query?: JSONSchemaType<Q>; rateLimited?: boolean },
    handler: (p: Record<string, string>, body: B, query: Q, request: RouteRequest) => Promise<unknown>,
  ): void => {
    const validateBody: Validator<B> | null = meta.body ? bodyValidator(meta.body) : null;
    const validateQuery: Validator<Q> | null = meta.query ? queryValidator(meta.query) : null;
    const status = meta.status ?? 200;
    for (const m of Array.isArray(method) ? method : [method]) {
      routes.push({
        method: m,
        path,
        summary: meta.summary,
        status,
        response: meta.response,
        bodySchema: meta.body as JSONSchemaType<unknown> | undefined,
        querySchema: meta.query as JSONSchemaType<unknown> | undefined,
        rateLimited: meta.rateLimited,
        async handle(request) {
          const body = validateBody ? validateBody(request.body) : (undefined as B);
          const query = validateQuery ? validateQuery({ ...request.query }) : (undefined as Q);
          const out = await handler(request.params, body, query, request);
          return out instanceof Answer ? out : { status, body: out };
        },
      });
    }
  };

  const apps = "/api/v1/applications";
  const chat = `${apps}/:token/chats/:chat`;
  const message = `${chat}/messages/:message`;

  add("POST", apps, { summary: "Create an application", status: 201, response: "Application", body: schemas.nameBody }, async (_p, b) =>
    applicationJson(await service.createApplication(checkName(b.name))),
  );
  add("GET", apps, { summary: "List applications (admin)", response: "Page<Application>", query: schemas.tokenPageQuery }, async (_p, _b, q, r) => {
    checkAdmin(r.authorization);
    return pageJson(await service.listApplications(q.after ?? null, clampLimit(q.limit)), applicationJson);
  });
  add("GET", `${apps}/:token`, { summary: "Get an application", response: "Application" }, async (p) =>
    applicationJson(await service.getApplication(p.token!)),
  );
  add(["PATCH", "PUT"], `${apps}/:token`, { summary: "Rename an application", response: "Application", body: schemas.nameBody }, async (p, b) =>
    applicationJson(await service.renameApplication(p.token!, checkName(b.name))),
  );

  add("POST", `${apps}/:token/chats`, { summary: "Create a chat (201; 200 for a repeated Idempotency-Key)", status: 201, response: "Chat", body: schemas.optionalNameBody, rateLimited: true }, async (p, b, _q, r) =>
    answerCreate(await service.createChat(p.token!, checkName(b.name) ?? null, idempotencyKey(r)), chatJson),
  );
  add("GET", `${apps}/:token/chats`, { summary: "List chats, ascending by number", response: "Page<Chat>", query: schemas.pageQuery }, async (p, _b, q) =>
    pageJson(await service.listChats(p.token!, q.after ?? 0, clampLimit(q.limit)), chatJson),
  );
  add("GET", chat, { summary: "Get a chat", response: "Chat" }, async (p) => chatJson(await service.getChat(p.token!, num(p.chat))));
  add(["PATCH", "PUT"], chat, { summary: "Rename a chat", response: "Chat", body: schemas.nameBody }, async (p, b) =>
    chatJson(await service.renameChat(p.token!, num(p.chat), checkName(b.name))),
  );

  add("POST", `${chat}/messages`, { summary: "Send a message (201; 200 for a repeated Idempotency-Key)", status: 201, response: "Message", body: schemas.messageBody, rateLimited: true }, async (p, b, _q, r) =>
    answerCreate(await service.createMessage(p.token!, num(p.chat), checkBodyBytes(b.body), idempotencyKey(r)), messageJson),
  );
  add(
    "GET",
    `${chat}/messages`,
    { summary: "List messages: newest first, or ?after=N ascending, or ?before=N descending", response: "Page<Message>", query: schemas.messagePageQuery },
    async (p, _b, q) => {
      const range: MessageRange =
        q.after !== undefined ? { direction: "after", number: q.after } : q.before !== undefined ? { direction: "before", number: q.before } : { direction: "newest" };
      return pageJson(await service.listMessages(p.token!, num(p.chat), range, clampLimit(q.limit)), messageJson);
    },
  );
  add("GET", `${chat}/messages/search`, { summary: "Search a chat's messages (prefix match per word)", response: "Page<SearchHit>", query: schemas.searchQuery }, async (p, _b, q) =>
    pageJson(await service.searchMessages(p.token!, num(p.chat), q.q, clampLimit(q.limit), q.after ?? null), searchHitJson),
  );
  add("GET", message, { summary: "Get a message", response: "Message" }, async (p) =>
    messageJson(await service.getMessage(p.token!, num(p.chat), num(p.message))),
  );
  add(["PATCH", "PUT"], message, { summary: "Edit a message", response: "Message", body: schemas.messageBody }, async (p, b) =>
    messageJson(await service.editMessage(p.token!, num(p.chat), num(p.message), checkBodyBytes(b.body))),
  );
  return routes;
}

/** A handler's answer with a status other than the route's own. */
class Answer implements RouteResult {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

/** 201 for a create, 200 for the original entity of a repeated Idempotency-Key. */
function answerCreate<T>(result: Created<T>, toJson: (entity: T) => unknown): Answer {
  return new Answer(result.created ? 201 : 200, toJson(result.entity));
}

function idempotencyKey(request: RouteRequest): string | null {
  if (request.idempotencyKey === null) return null;
  if (!isIdempotencyKey(request.idempotencyKey)) throw invalid("Idempotency-Key", idempotencyKeyRule);
  return request.idempotencyKey;
}

/** Non-numeric or out-of-range numbers name nothing: 404. */
function num(segment: string | undefined): number {
  const n = parseNumber(segment ?? "");
  if (n === null) throw notFound("resource");
  return n;
}

/** A body is stored byte for byte, so it must be valid Unicode and fit in 64 KiB of UTF-8. */
function checkBodyBytes(body: string): string {
  if (!body.isWellFormed()) throw invalid("body", "must be valid Unicode (no lone surrogates)");
  if (Buffer.byteLength(body, "utf8") > limits.bodyMaxBytes) throw invalid("body", `must be at most ${limits.bodyMaxBytes} bytes of UTF-8`);
  return body;
}

function checkName<T extends string | undefined>(name: T): T {
  if (name !== undefined && !name.isWellFormed()) throw invalid("name", "must be valid Unicode (no lone surrogates)");
  return name;
}

const invalid = (field: string, message: string): DomainError => new DomainError("validation_failed", "the request is not valid", [{ field, message }]);

function pageJson<T, J>(page: Page<T>, toJson: (item: T) => J): { data: J[]; next: string | null } {
  return { data: page.data.map(toJson), next: page.next };
}
