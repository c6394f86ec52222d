import { SocketError } from "./errors.js";

/** How frames travel on the socket: the subprotocol that selects the encoding, and the encoding itself. */
export interface Codec {
  /** Offered as `Sec-WebSocket-Protocol`. */
  readonly protocol: string;
  encode(frame: Record<string, unknown>): string | Uint8Array;
  /** `data` is a string for text frames and an ArrayBuffer for binary ones. */
  decode(data: unknown): unknown;
}

/** `chat.v1.json`: JSON text frames, the server's default. */
export const jsonCodec: Codec = {
  protocol: "chat.v1.json",
  encode: (frame) => JSON.stringify(frame),
  decode(data) {
    if (typeof data !== "string") throw new SocketError("invalid_frame", "a JSON socket got a binary frame");
    return JSON.parse(data);
  },
};
