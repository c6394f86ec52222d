/** Called once with the status the response was sent with. */
export type ResponseDone = (status: number) => void;

/** Measures REST requests by route pattern (never the raw path: tokens are credentials). */
export interface RequestObserver {
  started(method: string, route: string): ResponseDone;
}
