import type { JSONSchemaType } from "ajv";
import { reaches, userOf, type AccessControl, type Actor } from "../../domain/access-control.js";
import type { ChatService, Created } from "../../domain/chat-service.js";
import type { PresenceService } from "../../domain/presence-service.js";
import type { ReadMarkerService } from "../../domain/read-marker-service.js";
import { idempotencyKeyRule, isIdempotencyKey } from "../../domain/idempotency-key.js";
import { CredentialRefused, DomainError, notFound } from "../../domain/errors.js";
import { clampLimit, limits, parseNumber } from "../../domain/limits.js";
import type { Application, MessageRange, Page } from "../../domain/types.js";
import { applicationJson, chatJson, messageJson, readStateJson, searchHitJson, userJson } from "../representations.js";
import * as schemas from "./schemas.js";
import { bodyValidator, queryValidator, type Validator } from "./validation.js";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

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
  /** Name in `responseSchemas`, optionally as a page (`Page<...>`); "none" for a 204. */
  response: string;
  bodySchema?: JSONSchemaType<unknown>;
  querySchema?: JSONSchemaType<unknown>;
  /** A create: it consumes the per-token rate limit and passes admission control. */
  creates?: boolean;
  handle(request: RouteRequest): Promise<RouteResult>;
}

export interface RouteDeps {
  service: ChatService;
  access: AccessControl;
  readMarkers: ReadMarkerService;
  presence: PresenceService;
  /** Throws unless the Authorization header carries the admin key. */
  checkAdmin: (authorization: string) => void;
}

/** Every REST endpoint (docs/API.md; health endpoints live in the server). */
export function buildRoutes({ service, access, readMarkers, presence, checkAdmin }: RouteDeps): Route[] {
  const isAdmin = (authorization: string): boolean => {
    try {
      checkAdmin(authorization);
      return true;
    } catch {
      return false;
    }
  };
  const routes: Route[] = [];
  const add = <B, Q>(
    method: Method | Method[],
    path: string,
    meta: { summary: string; status?: number; response: string; body?: JSONSchemaType<B>; query?: JSONSchemaType<Q>; creates?: boolean },
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
        creates: meta.creates,
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

  /** The actor of a request on `app` (and on `chat`): its user token, checked against the application's rules. */
  const actorOf = async (r: RouteRequest, app: string, chat: number | null): Promise<Actor> =>
    access.actor(app, chat, await access.identify(app, bearerToken(r.authorization)));
  const appJson = async (a: Application): Promise<ReturnType<typeof applicationJson>> => applicationJson(a, await access.userTokensRequired(a.token));

  add("POST", apps, { summary: "Create an application; the answer carries its secret, shown this once", status: 201, response: "NewApplication", body: schemas.nameBody }, async (_p, b) => {
    const created = await service.createApplication(checkName(b.name));
    const secret = await access.issueSecret(created.token);
    return { ...applicationJson(created, false), secret };
  });
  add("GET", apps, { summary: "List applications (admin)", response: "Page<Application>", query: schemas.tokenPageQuery }, async (_p, _b, q, r) => {
    checkAdmin(r.authorization);
    const page = await service.listApplications(q.after ?? null, clampLimit(q.limit));
    return { data: await Promise.all(page.data.map(appJson)), next: page.next };
  });
  add("GET", `${apps}/:token`, { summary: "Get an application", response: "Application" }, async (p) => appJson(await service.getApplication(p.token!)));
  add(
    ["PATCH", "PUT"],
    `${apps}/:token`,
    { summary: "Rename an application, or open or close it (user_tokens_required; that, and any change of a closed one, needs Authorization: Bearer <secret>)", response: "Application", body: schemas.applicationSettingsBody },
    async (p, b, _q, r) => {
      const token = p.token!;
      if (b.name === undefined && b.user_tokens_required === undefined) throw invalid("name", "give name, user_tokens_required, or both");
      let application = await service.getApplication(token);
      if (b.user_tokens_required !== undefined || (await access.userTokensRequired(token))) await access.requireSecret(token, bearerToken(r.authorization));
      if (b.name !== undefined) application = await service.renameApplication(token, checkName(b.name));
      if (b.user_tokens_required !== undefined) await access.setUserTokensRequired(token, b.user_tokens_required);
      return appJson(application);
    },
  );
  add("POST", `${apps}/:token/secret`, { summary: "Rotate the secret (Authorization: Bearer <current secret>); the previous one verifies 10 more minutes", response: "Secret" }, async (p, _b, _q, r) => {
    await service.getApplication(p.token!);
    return { secret: await access.rotateSecret(p.token!, bearerToken(r.authorization), isAdmin(r.authorization)) };
  });

  add("POST", `${apps}/:token/chats`, { summary: "Create a chat (201; 200 for a repeated Idempotency-Key)", status: 201, response: "Chat", body: schemas.optionalNameBody, creates: true }, async (p, b, _q, r) => {
    await actorOf(r, p.token!, null);
    return answerCreate(await service.createChat(p.token!, checkName(b.name) ?? null, idempotencyKey(r)), chatJson);
  });
  add("GET", `${apps}/:token/chats`, { summary: "List chats, ascending by number (a user token's chats claim narrows it)", response: "Page<Chat>", query: schemas.pageQuery }, async (p, _b, q, r) => {
    const identity = await access.identify(p.token!, bearerToken(r.authorization));
    await access.actor(p.token!, null, identity);
    const page = await service.listChats(p.token!, q.after ?? 0, clampLimit(q.limit));
    const granted = identity ? page.data.filter((c) => reaches(identity, c.number)) : page.data;
    return { data: granted.map(chatJson), next: page.next };
  });
  add("GET", chat, { summary: "Get a chat", response: "Chat" }, async (p, _b, _q, r) => {
    await actorOf(r, p.token!, num(p.chat));
    return chatJson(await service.getChat(p.token!, num(p.chat)));
  });
  add(["PATCH", "PUT"], chat, { summary: "Rename a chat", response: "Chat", body: schemas.nameBody }, async (p, b, _q, r) => {
    await actorOf(r, p.token!, num(p.chat));
    return chatJson(await service.renameChat(p.token!, num(p.chat), checkName(b.name)));
  });
  add("GET", `${chat}/presence`, { summary: "The users subscribed to the chat now, on any process, each once", response: "Presence" }, async (p, _b, _q, r) => {
    await actorOf(r, p.token!, num(p.chat));
    return { data: (await presence.members(p.token!, num(p.chat))).map(userJson) };
  });
  add("GET", `${chat}/read`, { summary: "The user token's user's read marker and unread count", response: "ReadState" }, async (p, _b, _q, r) => {
    const actor = await actorOf(r, p.token!, num(p.chat));
    return readStateJson(await readMarkers.state(p.token!, num(p.chat), userOf(actor, "a read marker")));
  });
  add("PUT", `${chat}/read`, { summary: "Move the user's read marker forward (never backwards)", response: "ReadState", body: schemas.readBody }, async (p, b, _q, r) => {
    const actor = await actorOf(r, p.token!, num(p.chat));
    return readStateJson(await readMarkers.mark(p.token!, num(p.chat), userOf(actor, "a read marker"), b.number));
  });

  add("POST", `${chat}/messages`, { summary: "Send a message (201; 200 for a repeated Idempotency-Key); sender is the user token's user", status: 201, response: "Message", body: schemas.messageBody, creates: true }, async (p, b, _q, r) => {
    const actor = await actorOf(r, p.token!, num(p.chat));
    return answerCreate(await service.createMessage(p.token!, num(p.chat), checkBodyBytes(b.body), idempotencyKey(r), actor.user), messageJson);
  });
  add(
    "GET",
    `${chat}/messages`,
    { summary: "List messages: newest first, or ?after=N ascending, or ?before=N descending", response: "Page<Message>", query: schemas.messagePageQuery },
    async (p, _b, q, r) => {
      await actorOf(r, p.token!, num(p.chat));
      const range: MessageRange =
        q.after !== undefined ? { direction: "after", number: q.after } : q.before !== undefined ? { direction: "before", number: q.before } : { direction: "newest" };
      return pageJson(await service.listMessages(p.token!, num(p.chat), range, clampLimit(q.limit)), messageJson);
    },
  );
  add("GET", `${chat}/messages/search`, { summary: "Search a chat's messages (prefix match per word)", response: "Page<SearchHit>", query: schemas.searchQuery }, async (p, _b, q, r) => {
    await actorOf(r, p.token!, num(p.chat));
    return pageJson(await service.searchMessages(p.token!, num(p.chat), q.q, clampLimit(q.limit), q.after ?? null), searchHitJson);
  });
  add("GET", message, { summary: "Get a message", response: "Message" }, async (p, _b, _q, r) => {
    await actorOf(r, p.token!, num(p.chat));
    return messageJson(await service.getMessage(p.token!, num(p.chat), num(p.message)));
  });
  add(["PATCH", "PUT"], message, { summary: "Edit a message (on a closed application, its sender only)", response: "Message", body: schemas.messageBody }, async (p, b, _q, r) => {
    const actor = await actorOf(r, p.token!, num(p.chat));
    return messageJson(await service.editMessage(p.token!, num(p.chat), num(p.message), checkBodyBytes(b.body), actor));
  });
  add("DELETE", message, { summary: "Delete a message (204, also when it was deleted already; on a closed application, its sender only)", status: 204, response: "none" }, async (p, _b, _q, r) => {
    const actor = await actorOf(r, p.token!, num(p.chat));
    await service.deleteMessage(p.token!, num(p.chat), num(p.message), actor);
    return null;
  });
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

/** The credential of `Authorization: Bearer <credential>`; null without the header. Another scheme is refused. */
function bearerToken(authorization: string): string | null {
  if (authorization === "") return null;
  const match = /^Bearer +(\S+) *$/i.exec(authorization);
  if (!match) throw new CredentialRefused("send credentials as Authorization: Bearer <token>");
  return match[1]!;
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
