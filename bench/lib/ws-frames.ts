import { pack, unpack } from "msgpackr";
import WebSocket from "ws";

// The /ws protocol as bench/ws-load.ts and its subscriber processes speak it.

export type Frame = Record<string, any> & { op: string };

export function open(url: string, protocol: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [protocol], { perMessageDeflate: false });
    ws.binaryType = "nodebuffer";
    ws.once("open", () => {
      ws.off("error", reject);
      // A socket error after the upgrade shows up as its close; unhandled, it would end the process.
      ws.on("error", () => undefined);
      resolve(ws);
    });
    ws.once("error", reject);
  });
}

export const decode = (data: Buffer, isBinary: boolean): Frame => (isBinary ? (unpack(data) as Frame) : (JSON.parse(data.toString("utf8")) as Frame));
export const encode = (ws: WebSocket, frame: object): void => (ws.protocol === "chat.v1.msgpack" ? ws.send(pack(frame)) : ws.send(JSON.stringify(frame)));

/** Milliseconds since the epoch with sub-millisecond resolution: one clock for every process on this machine. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** Sends carry `wsl:<sender>:<seq>:<sent at, epochMs>:<padding>` as their body. */
export const sendBody = (sender: number, seq: number, at: number, pad: string): string => `wsl:${sender}:${seq}:${at.toFixed(3)}:${pad}`;
export function parseSendBody(body: string): { sender: number; seq: number; at: number } | null {
  if (!body.startsWith("wsl:")) return null;
  const [, sender, seq, at] = body.split(":", 4);
  return { sender: Number(sender), seq: Number(seq), at: Number(at) };
}
