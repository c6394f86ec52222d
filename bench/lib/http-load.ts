import autocannon from "autocannon";
import { Outcomes, Samples, is2xx, type LatencySummary } from "./stats.js";

export interface HttpLoad {
  /** Origin, e.g. http://127.0.0.1:3000 */
  origin: string;
  method: "GET" | "POST";
  /** A fixed path, or a picker called before every request (random chat, random message). */
  path: string | (() => string);
  /** A fixed JSON body, or a builder called before every request. */
  body?: string | (() => string);
  connections: number;
  /** Either a duration or a fixed number of requests. */
  durationS?: number;
  amount?: number;
  /** Called with every response body (costs load-generator CPU; only for checks). */
  onBody?: (status: number, body: string) => void;
}

export interface HttpLoadResult {
  durationS: number;
  /** Successful (2xx) responses per second over the run. */
  okPerSec: number;
  ok: number;
  non2xx: number;
  /** Connection errors and timeouts as autocannon counts them. */
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** Latency of 2xx responses, ms. */
  latency: LatencySummary;
}

/**
 * One autocannon run through its programmatic API. Dynamic paths/bodies use a
 * single-entry `requests` array whose setupRequest rebuilds the request, so
 * every request can go to a different chat. Latencies are recorded from the
 * tracker's per-response event (float ms), not autocannon's integer histogram.
 */
export function runHttpLoad(load: HttpLoad): Promise<HttpLoadResult> {
  const dynamic = typeof load.path === "function" || typeof load.body === "function";
  const fixedPath = typeof load.path === "string" ? load.path : load.path();
  const fixedBody = load.body === undefined ? undefined : typeof load.body === "string" ? load.body : load.body();
  const headers: Record<string, string> = load.body !== undefined ? { "content-type": "application/json" } : {};
  const request: autocannon.Request = { method: load.method, path: fixedPath, headers };
  if (fixedBody !== undefined) request.body = fixedBody;
  if (dynamic) {
    const pathOf = load.path;
    const bodyOf = load.body;
    request.setupRequest = (req) => {
      if (typeof pathOf === "function") req.path = pathOf();
      if (typeof bodyOf === "function") req.body = bodyOf();
      return req;
    };
  }
  if (load.onBody) {
    const onBody = load.onBody;
    request.onResponse = (status: number, body: string) => onBody(status, body);
  }
  const options: autocannon.Options = {
    url: load.origin,
    connections: load.connections,
    pipelining: 1,
    timeout: 10,
    // autocannon only checks its stop flag on this tick; 100 ms keeps short (smoke) runs short.
    sampleInt: 100,
    requests: [request],
    ...(load.amount !== undefined ? { amount: load.amount } : { duration: load.durationS ?? 10 }),
  };

  const samples = new Samples();
  const outcomes = new Outcomes();
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (err, result) => {
      if (err) return reject(err);
      const ok = outcomes.count(is2xx);
      const durationS = result.duration > 0 ? result.duration : (load.durationS ?? 0);
      resolve({
        durationS,
        okPerSec: durationS > 0 ? ok / durationS : 0,
        ok,
        non2xx: outcomes.count((c) => !is2xx(c)),
        errors: result.errors,
        timeouts: result.timeouts,
        statusCodes: outcomes.byCode,
        latency: samples.summary(),
      });
    });
    instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      outcomes.add(statusCode);
      if (statusCode >= 200 && statusCode < 300) samples.add(responseTime);
    });
  });
}
