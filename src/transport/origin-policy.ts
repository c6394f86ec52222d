/**
 * Which browser origins may use the API (CORS_ORIGINS): REST answers their
 * preflights and marks their responses readable; WebSocket upgrades from
 * any other origin are refused. With no list configured, REST sends no CORS
 * headers and upgrades are not checked (today's behaviour).
 */
export class OriginPolicy {
  private readonly any: boolean;
  private readonly origins: ReadonlySet<string>;

  /** `"*"`: every origin; a list: exactly those (`scheme://host[:port]`); empty: CORS off. */
  constructor(allowed: "*" | readonly string[]) {
    this.any = allowed === "*";
    this.origins = new Set(allowed === "*" ? [] : allowed.map((o) => o.toLowerCase()));
  }

  get configured(): boolean {
    return this.any || this.origins.size > 0;
  }

  private allows(origin: string): boolean {
    return origin !== "" && (this.any || this.origins.has(origin.toLowerCase()));
  }

  /** Headers for a REST response to a request that came with `Origin: origin` ("" when none). */
  responseHeaders(origin: string): Record<string, string> {
    if (!this.allows(origin)) return {};
    return {
      "Access-Control-Allow-Origin": this.any ? "*" : origin,
      "Access-Control-Expose-Headers": "Retry-After",
      Vary: "Origin",
    };
  }

  /** Headers answering a preflight for a path that takes `methods`; null when the origin is not allowed. */
  preflightHeaders(origin: string, methods: readonly string[]): Record<string, string> | null {
    if (!this.allows(origin)) return null;
    return {
      ...this.responseHeaders(origin),
      "Access-Control-Allow-Methods": methods.join(", "),
      "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key",
      "Access-Control-Max-Age": "600",
    };
  }

  /** WebSocket upgrades: no Origin (not a browser) and same-origin pages are always let in. */
  allowsUpgrade(origin: string, host: string): boolean {
    if (!this.configured || origin === "" || this.allows(origin)) return true;
    try {
      return new URL(origin).host.toLowerCase() === host.toLowerCase();
    } catch {
      return false;
    }
  }
}
