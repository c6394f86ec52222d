import WebSocket from "ws";
import { Outcomes, Samples, type LatencySummary } from "./stats.js";

// WebSocket message creates: N sockets, each keeping `window` sends in
// flight (pipelined), measuring send → ack latency per `ref`. JSON text
// frames (the default subprotocol). Used when bench/ws-load.ts (owned by the
// realtime engineer) is not there to call.

export interface WsSendLoad {
  /** ws://host:port/ws */
  url: string;
  app: string;
  /** Chat for each send: fixed, or picked per send. */
  chat: number | (() => number);
  sockets: number;
  /** Sends in flight per socket. */
  window: number;
  durationS: number;
}

export interface WsSendResult {
  durationS: number;
  okPerSec: number;
  ok: number;
  /** `error` frames, by code. */
  rejected: number;
  /** Sockets that failed to open or closed mid-run, and sends left without an answer. */
  errors: number;
  unanswered: number;
  outcomes: Record<string, number>;
  closes: Record<string, number>;
  latency: LatencySummary;
}

/** Opens a socket or fails with what the server answered (e.g. 404 before /ws exists). */
export function openSocket(url: string, timeoutMs = 5000): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no WebSocket upgrade within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once("open", () => {
      clearTimeout(timer);
      resolve(ws);
    });
    ws.once("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
    });
    ws.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Sends one frame with a ref and waits for the frame that echoes it. */
export function request(ws: WebSocket, frame: Record<string, unknown>, timeoutMs = 5000): Promise<Record<string, unknown>> {
  const ref = `req-${Math.random().toString(36).slice(2)}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.off("message", onMessage);
      reject(new Error(`no answer to ${String(frame.op)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (data: WebSocket.RawData): void => {
      let reply: Record<string, unknown>;
      try {
        reply = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        return;
      }
      if (reply.ref !== ref) return;
      clearTimeout(timer);
      ws.off("message", onMessage);
      resolve(reply);
    };
    ws.on("message", onMessage);
    ws.send(JSON.stringify({ ...frame, ref }));
  });
}

export async function runWsSend(load: WsSendLoad): Promise<WsSendResult> {
  const samples = new Samples();
  const outcomes = new Outcomes();
  const closes = new Outcomes();
  const chatOf = typeof load.chat === "function" ? load.chat : () => load.chat as number;
  let errors = 0;
  let unanswered = 0;
  const sockets = await Promise.all(
    Array.from({ length: load.sockets }, () =>
      openSocket(load.url).catch((err: unknown) => {
        errors++;
        if (errors === 1) throw err;
        return null;
      }),
    ),
  );
  let running = true;
  let seq = 0;
  const started = performance.now();
  const done = sockets.map(
    (ws, i) =>
      new Promise<void>((resolve) => {
        if (!ws) return resolve();
        const inFlight = new Map<number, number>();
        const sendOne = (): void => {
          const ref = ++seq;
          inFlight.set(ref, performance.now());
          ws.send(`{"op":"send","ref":${ref},"app":${JSON.stringify(load.app)},"chat":${chatOf()},"body":"ws bench ${i}-${ref}"}`);
        };
        ws.on("message", (data) => {
          let frame: { op?: string; ref?: number; code?: string };
          try {
            frame = JSON.parse(data.toString()) as typeof frame;
          } catch {
            return;
          }
          if (frame.ref === undefined) return;
          const sentAt = inFlight.get(frame.ref);
          if (sentAt === undefined) return;
          inFlight.delete(frame.ref);
          if (frame.op === "ack") {
            outcomes.add("ack");
            samples.add(performance.now() - sentAt);
          } else {
            outcomes.add(`${frame.op}:${frame.code ?? "?"}`);
          }
          if (running) sendOne();
          else if (inFlight.size === 0) ws.close(1000);
        });
        ws.on("close", (code) => {
          closes.add(code);
          if (running) errors++;
          unanswered += inFlight.size;
          resolve();
        });
        ws.on("error", () => undefined);
        for (let k = 0; k < load.window; k++) sendOne();
      }),
  );
  await new Promise((r) => setTimeout(r, load.durationS * 1000));
  running = false;
  const elapsedS = (performance.now() - started) / 1000;
  const okInWindow = outcomes.byCode.ack ?? 0;
  // Let in-flight sends finish (bounded), then close what is left.
  const drain = setTimeout(() => sockets.forEach((ws) => ws?.terminate()), 5000);
  await Promise.all(done);
  clearTimeout(drain);
  const ok = outcomes.byCode.ack ?? 0;
  return {
    durationS: Math.round(elapsedS * 100) / 100,
    okPerSec: okInWindow / elapsedS,
    ok,
    rejected: outcomes.count((c) => c !== "ack"),
    errors,
    unanswered,
    outcomes: outcomes.byCode,
    closes: closes.byCode,
    latency: samples.summary(),
  };
}
