/**
 * The part of the WebSocket API the client uses. The browser's WebSocket and
 * the `ws` package's (for Node 20, which has no global one) both fit it.
 */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * Method syntax makes the parameter bivariant, so implementations whose
 * handlers take a richer event type (MessageEvent, CloseEvent, ws's own)
 * still fit; the client reads only the fields named here.
 */
type Handler<E> = { bivarianceHack(event: E): void }["bivarianceHack"];

/** WebSocket.OPEN, which the interface cannot carry as a static. */
export const OPEN = 1;
