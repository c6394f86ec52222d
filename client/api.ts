import { backoffDelay, defaultBackoff, delay, retryAfterMs, type BackoffOptions } from "./backoff.js";
import { ApiError } from "./errors.js";
import { newIdempotencyKey } from "./idempotency.js";
import type { Application, Chat, FieldError, Message, NewApplication, Page, ReadState, SearchHit, User } from "./types.js";

/** A bearer credential, or nothing; may be fetched asynchronously (a token refresh). */
export type AuthHook = () => string | null | undefined | Promise<string | null | undefined>;

export interface ChatApiOptions {
  /** The server's origin, e.g. `http://localhost:3000` (the client adds `/api/v1`). */
  baseUrl: string;
  /** Defaults to the global fetch (browsers, Node 20). */
  fetch?: typeof fetch;
  /**
   * The user token (signed by the application's backend): called before every
   * request; a value is sent as `Authorization: Bearer <value>`, and the
   * server acts as that user (the sender of messages, whose read markers).
   */
  auth?: AuthHook;
  /** Further attempts after a 429, a 503 or a network failure (default 5). */
  retries?: number;
  /** A `Retry-After` longer than this is not waited for: the call fails at once (default 30 s). */
  maxRetryAfterMs?: number;
  /** Waits between retries that come without `Retry-After`. */
  backoff?: Partial<BackoffOptions>;
}

export interface ListOptions {
  /** The previous page's `next`. */
  after?: string | number;
  limit?: number;
}

/** Message pages: newest first by default, `after` ascending, `before` descending (older than that number). */
export interface MessageListOptions extends ListOptions {
  before?: string | number;
}

export interface CreateOptions {
  /**
   * Sent as `Idempotency-Key`; generated per call when absent. Every retry of
   * the call carries the same key, so a create that reached the server before
   * its answer was lost is not made twice.
   */
  idempotencyKey?: string;
}

interface RequestSpec {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  idempotencyKey?: string;
  /** Replaces the auth hook's credential (the admin key, an application secret). */
  authorization?: string;
}

const RETRYABLE_STATUS = new Set([429, 503]);

/** Every REST call of `/api/v1`, with retries that honour `Retry-After`. */
export class ChatApi {
  readonly baseUrl: string;
  private readonly fetch: typeof fetch;
  private readonly auth: AuthHook | undefined;
  private readonly retries: number;
  private readonly maxRetryAfterMs: number;
  private readonly backoff: BackoffOptions;

  constructor(options: ChatApiOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    // Bound: a bare reference to window.fetch throws "Illegal invocation" when called as a method.
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.auth = options.auth;
    this.retries = options.retries ?? 5;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
    this.backoff = { ...defaultBackoff, ...options.backoff };
  }

  // --- applications

  /** The answer carries the application's secret: keep it on your backend, it is never shown again. */
  createApplication(name: string, options: CreateOptions = {}): Promise<NewApplication> {
    return this.create({ method: "POST", path: "/applications", body: { name } }, options);
  }

  /** Closes (true) or opens (false) the application: closed, every chat and message call needs a user token. */
  setUserTokensRequired(token: string, secret: string, required: boolean): Promise<Application> {
    return this.call({ method: "PATCH", path: app(token), body: { user_tokens_required: required }, authorization: `Bearer ${secret}` });
  }

  /** A new secret; the current one keeps verifying user tokens for 10 minutes. */
  rotateSecret(token: string, secret: string): Promise<{ secret: string }> {
    return this.call({ method: "POST", path: `${app(token)}/secret`, authorization: `Bearer ${secret}` });
  }

  getApplication(token: string): Promise<Application> {
    return this.call({ method: "GET", path: app(token) });
  }

  renameApplication(token: string, name: string): Promise<Application> {
    return this.call({ method: "PUT", path: app(token), body: { name } });
  }

  /** The admin listing (`Authorization: Bearer <ADMIN_KEY>`), by token. */
  listApplications(adminKey: string, options: ListOptions = {}): Promise<Page<Application>> {
    return this.call({ method: "GET", path: "/applications", query: { ...options }, authorization: `Bearer ${adminKey}` });
  }

  // --- chats

  createChat(token: string, name?: string, options: CreateOptions = {}): Promise<Chat> {
    return this.create({ method: "POST", path: `${app(token)}/chats`, body: name === undefined ? {} : { name } }, options);
  }

  /** Ascending by number. */
  listChats(token: string, options: ListOptions = {}): Promise<Page<Chat>> {
    return this.call({ method: "GET", path: `${app(token)}/chats`, query: { ...options } });
  }

  getChat(token: string, chat: number): Promise<Chat> {
    return this.call({ method: "GET", path: chatPath(token, chat) });
  }

  renameChat(token: string, chat: number, name: string): Promise<Chat> {
    return this.call({ method: "PUT", path: chatPath(token, chat), body: { name } });
  }

  // --- messages

  sendMessage(token: string, chat: number, body: string, options: CreateOptions = {}): Promise<Message> {
    return this.create({ method: "POST", path: `${chatPath(token, chat)}/messages`, body: { body } }, options);
  }

  listMessages(token: string, chat: number, options: MessageListOptions = {}): Promise<Page<Message>> {
    return this.call({ method: "GET", path: `${chatPath(token, chat)}/messages`, query: { ...options } });
  }

  getMessage(token: string, chat: number, number: number): Promise<Message> {
    return this.call({ method: "GET", path: `${chatPath(token, chat)}/messages/${number}` });
  }

  editMessage(token: string, chat: number, number: number, body: string): Promise<Message> {
    return this.call({ method: "PUT", path: `${chatPath(token, chat)}/messages/${number}`, body: { body } });
  }

  /** Deletes a message (done again, it is still done); subscribers get `message_deleted`. */
  async deleteMessage(token: string, chat: number, number: number): Promise<void> {
    await this.call<null>({ method: "DELETE", path: `${chatPath(token, chat)}/messages/${number}` });
  }

  // --- the user's view of a chat (needs the auth hook's user token)

  getReadState(token: string, chat: number): Promise<ReadState> {
    return this.call({ method: "GET", path: `${chatPath(token, chat)}/read` });
  }

  /** Moves the user's read marker forward to `number` (never backwards). */
  markRead(token: string, chat: number, number: number): Promise<ReadState> {
    return this.call({ method: "PUT", path: `${chatPath(token, chat)}/read`, body: { number } });
  }

  /** The users subscribed to the chat now, each once. */
  async getPresence(token: string, chat: number): Promise<User[]> {
    return (await this.call<{ data: User[] }>({ method: "GET", path: `${chatPath(token, chat)}/presence` })).data;
  }

  /** Every word of `q` must start a word of the body; `after` is the previous page's opaque `next`. */
  searchMessages(token: string, chat: number, q: string, options: { after?: string; limit?: number } = {}): Promise<Page<SearchHit>> {
    return this.call({ method: "GET", path: `${chatPath(token, chat)}/messages/search`, query: { q, ...options } });
  }

  // --- transport

  private create<T>(spec: RequestSpec, options: CreateOptions): Promise<T> {
    return this.call({ ...spec, idempotencyKey: options.idempotencyKey ?? newIdempotencyKey() });
  }

  /** One call, retried on 429/503 (after `Retry-After`, else backoff) and on network failures. */
  private async call<T>(spec: RequestSpec): Promise<T> {
    const url = this.url(spec);
    for (let attempt = 0; ; attempt++) {
      const init = await this.init(spec);
      let res: Response;
      try {
        res = await this.fetch(url, init);
      } catch (err) {
        // No answer at all (server restarting, network down): the same request, key included, again.
        if (attempt >= this.retries) throw err;
        await delay(backoffDelay(attempt, this.backoff));
        continue;
      }
      if (res.status === 204) return null as T;
      if (res.ok) return (await res.json()) as T;
      const failure = await errorOf(res);
      if (!RETRYABLE_STATUS.has(res.status) || attempt >= this.retries) throw failure;
      const wait = retryAfterMs(res.headers.get("retry-after")) ?? backoffDelay(attempt, this.backoff);
      if (wait > this.maxRetryAfterMs) throw failure;
      await delay(wait);
    }
  }

  private url(spec: RequestSpec): string {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(spec.query ?? {})) if (value !== undefined) params.set(name, String(value));
    const query = params.toString();
    return `${this.baseUrl}/api/v1${spec.path}${query ? `?${query}` : ""}`;
  }

  private async init(spec: RequestSpec): Promise<RequestInit> {
    const headers: Record<string, string> = { accept: "application/json" };
    const credential = spec.authorization ?? (this.auth ? bearer(await this.auth()) : undefined);
    if (credential) headers.authorization = credential;
    if (spec.idempotencyKey) headers["idempotency-key"] = spec.idempotencyKey;
    if (spec.body === undefined) return { method: spec.method, headers };
    headers["content-type"] = "application/json";
    return { method: spec.method, headers, body: JSON.stringify(spec.body) };
  }
}

const app = (token: string): string => `/applications/${encodeURIComponent(token)}`;
const chatPath = (token: string, chat: number): string => `${app(token)}/chats/${chat}`;
const bearer = (token: string | null | undefined): string | undefined => (token ? `Bearer ${token}` : undefined);

/** The server's error body, or a stand-in when a proxy answered with something else. */
async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string; details?: FieldError[] } };
    return new ApiError(res.status, error.code, error.message, error.details);
  } catch {
    return new ApiError(res.status, "http_error", `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`);
  }
}
