import type { HttpResponse } from "uWebSockets.js";

/** Called once with the status the response was sent with. */
export type ResponseDone = (status: number) => void;

/** Measures REST requests by route pattern (never the raw path: tokens are credentials). */
export interface RequestObserver {
  started(method: string, route: string): ResponseDone;
}

// Responses are written from several places (results, errors, early 413/429);
// they all pass through one send function, which reports here. Keyed by the
// uWS response object, which lives exactly as long as the request.
const waiting = new WeakMap<HttpResponse, ResponseDone>();

export function observeResponse(res: HttpResponse, done: ResponseDone): void {
  waiting.set(res, done);
}

export function reportResponse(res: HttpResponse, status: number): void {
  const done = waiting.get(res);
  if (!done) return;
  waiting.delete(res);
  done(status);
}
