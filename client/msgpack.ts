import { pack, unpack } from "msgpackr";
import type { Codec } from "./codec.js";
import { SocketError } from "./errors.js";

/**
 * `chat.v1.msgpack`: MessagePack binary frames (plain msgpackr pack/unpack,
 * as the server uses). A module of its own so that JSON users, such as the
 * demo page, never load msgpackr.
 */
export const msgpackCodec: Codec = {
  protocol: "chat.v1.msgpack",
  encode: (frame) => pack(frame),
  decode(data) {
    if (!(data instanceof ArrayBuffer)) throw new SocketError("invalid_frame", "a MessagePack socket got a text frame");
    return unpack(new Uint8Array(data));
  },
};
