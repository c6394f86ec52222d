/**
 * What the create path reports for operations (the API's metrics implement
 * it). Calls are cheap and synchronous; an implementation never throws.
 */
export interface CreateObserver {
  /** One allocation + publish is about to carry `size` creates (chats or messages). */
  batch(size: number): void;
  /** A create was submitted (+1) or settled, either way (−1). */
  inflight(delta: 1 | -1): void;
  /** Whether numbering is refusing allocations while counters recover (true) or allocating again (false). */
  recovering(on: boolean): void;
  /** `count` new messages became durable (repeats of an idempotency key are not counted). */
  messagesCreated(count: number): void;
}
