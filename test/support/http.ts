/** A tiny JSON client that records every response body (for the internal-id walk). */
export class Api {
  static readonly bodies: unknown[] = [];

  constructor(readonly base: string) {}

  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] ??= "application/json";
    }
    const res = await fetch(this.base + path, init);
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = { unparsed: text };
    }
    Api.bodies.push(json);
    return { status: res.status, json, headers: res.headers };
  }

  get(path: string, headers?: Record<string, string>) {
    return this.call("GET", path, undefined, headers);
  }
  post(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.call("POST", path, body, headers);
  }
  patch(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.call("PATCH", path, body, headers);
  }
  put(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.call("PUT", path, body, headers);
  }

  /** Retries while the service answers 503 (the sequencer's first-start fence). */
  async postReady(path: string, body?: unknown): Promise<{ status: number; json: any; headers: Headers }> {
    for (let i = 0; ; i++) {
      const res = await this.post(path, body);
      if (res.status !== 503 || i > 100) return res;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
