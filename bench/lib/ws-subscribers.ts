// Subscriber sockets of bench/ws-load.ts in a process of their own (ws-load
// forks --subscriber-procs of them), so that reading thousands of frames per
// message is not capped at one core by one event loop. Over IPC:
//   ← subscribe   → subscribed (once every socket is subscribed)
//                 → progress (delivered so far, every 50 ms while it changes)
//                 → complete (a send reached every subscriber here; when asked)
//   ← finish      → result (then closes its sockets and exits)
import type WebSocket from "ws";
import { Samples } from "./stats.js";
import { decode, encode, epochMs, open, parseSendBody, type Frame } from "./ws-frames.js";

export interface SubscribeOrder {
  type: "subscribe";
  urls: string[];
  protocol: string;
  app: string;
  chats: number;
  /** Global subscriber indices: subscriber i uses urls[i % urls.length] and chat 1 + i % chats. */
  indices: number[];
  /** Report each send once every subscriber here has it (ws-load --window). */
  reportComplete: boolean;
}

export interface FinishOrder {
  type: "finish";
  /** Every acknowledged send, to count what each subscriber missed. */
  acked: { chat: number; number: number }[];
}

export interface SubscribersResult {
  type: "result";
  delivered: number;
  duplicates: number;
  outOfOrder: number;
  missing: number;
  lastDeliveryAt: number;
  /** Send → frame parsed, ms, one sample per delivery. */
  e2eMs: Float64Array;
  closes: Record<string, number>;
}

export type FromSubscribers =
  | { type: "subscribed"; perChat: [number, number][] }
  | { type: "progress"; delivered: number; lastDeliveryAt: number }
  | { type: "complete"; seq: number }
  | SubscribersResult
  | { type: "error"; message: string };

const send = (msg: FromSubscribers): void => void process.send!(msg);

async function subscribe(order: SubscribeOrder): Promise<void> {
  const e2e = new Samples();
  const perChat = new Map<number, number>();
  const closes: Record<string, number> = {};
  let delivered = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let lastDeliveryAt = 0;
  // --window: per send, subscribers here still without it.
  const waiting = new Map<number, number>();
  const subs: { ws: WebSocket; chat: number; seen: Set<number> }[] = [];
  for (const i of order.indices) {
    const chat = 1 + (i % order.chats);
    const ws = await open(order.urls[i % order.urls.length]!, order.protocol);
    const seen = new Set<number>();
    const lastFrom = new Map<number, number>(); // sending socket → last number seen from it
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      const now = epochMs();
      const f = decode(data, isBinary);
      const sent = f.op === "message" && typeof f.body === "string" ? parseSendBody(f.body) : null;
      if (!sent) return;
      e2e.add(now - sent.at);
      delivered++;
      lastDeliveryAt = now;
      if (seen.has(f.number)) duplicates++;
      seen.add(f.number);
      if (f.number < (lastFrom.get(sent.sender) ?? 0)) outOfOrder++;
      lastFrom.set(sent.sender, f.number);
      if (order.reportComplete) {
        const left = (waiting.get(sent.seq) ?? perChat.get(chat)!) - 1;
        if (left > 0) waiting.set(sent.seq, left);
        else {
          waiting.delete(sent.seq);
          send({ type: "complete", seq: sent.seq });
        }
      }
    });
    ws.on("close", (code: number) => (closes[code] = (closes[code] ?? 0) + 1));
    const reply = await new Promise<Frame>((resolve) => {
      const onFrame = (data: Buffer, isBinary: boolean): void => {
        const f = decode(data, isBinary);
        if (f.ref !== "sub") return;
        ws.off("message", onFrame);
        resolve(f);
      };
      ws.on("message", onFrame);
      encode(ws, { op: "subscribe", ref: "sub", app: order.app, chat });
    });
    if (reply.op !== "subscribed") throw new Error(`subscribe refused: ${JSON.stringify(reply)}`);
    subs.push({ ws, chat, seen });
    perChat.set(chat, (perChat.get(chat) ?? 0) + 1);
  }
  let reported = -1;
  const progress = setInterval(() => {
    if (delivered === reported) return;
    reported = delivered;
    send({ type: "progress", delivered, lastDeliveryAt });
  }, 50);
  process.once("message", (msg: FinishOrder) => {
    clearInterval(progress);
    let missing = 0;
    for (const s of subs) for (const a of msg.acked) if (a.chat === s.chat && !s.seen.has(a.number)) missing++;
    const result: FromSubscribers = { type: "result", delivered, duplicates, outOfOrder, missing, lastDeliveryAt, e2eMs: e2e.raw(), closes };
    process.send!(result, () => {
      for (const s of subs) s.ws.terminate();
      process.disconnect();
    });
  });
  send({ type: "subscribed", perChat: [...perChat] });
}

process.once("message", (order: SubscribeOrder) => {
  subscribe(order).catch((err: unknown) => {
    send({ type: "error", message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  });
});
