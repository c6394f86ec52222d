// The chat backend's client: REST (ChatApi) and the realtime socket (ChatSocket).
// Runs in browsers and in Node 20; MessagePack lives in ./msgpack.js.
export { ChatApi, type AuthHook, type ChatApiOptions, type CreateOptions, type ListOptions, type MessageListOptions } from "./api.js";
export { defaultBackoff, type BackoffOptions } from "./backoff.js";
export { jsonCodec, type Codec } from "./codec.js";
export { ApiError, SocketError } from "./errors.js";
export { newIdempotencyKey } from "./idempotency.js";
export { pages } from "./pages.js";
export { ChatSocket, type ChatSocketEvents, type ChatSocketOptions, type ConnectionState, type SendOptions, type StateChange } from "./socket.js";
export type * from "./types.js";
export type { WebSocketConstructor, WebSocketLike } from "./websocket-like.js";
