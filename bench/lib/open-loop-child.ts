// One open-loop create client in its own process (forked by
// bench/lib/open-loop-procs.ts), so that the load generator is several event
// loops rather than one: a single undici Pool of thousands of connections
// saturated its own loop before the product did, and the client is a
// bare HTTP/1.1 one (bench/lib/http1-connections.ts) for the same reason. Speaks over IPC:
//   ← { type: "run", ...OpenLoopRun }   → { type: "result", ...ChildResult }
//   ← { type: "close" }                 (closes the connections and exits)
import { Http1Connections } from "./http1-connections.js";
import { openLoop } from "./open-loop.js";
import { Samples } from "./stats.js";

export interface OpenLoopRun {
  origin: string;
  connections: number;
  /** Epoch ms at which every child starts its schedule, so their loads line up. */
  startAt: number;
  /** Creates per second from this child. */
  rate: number;
  durationS: number;
  /** Path of chat N's messages is `${pathPrefix}${N}/messages`; N is random in 1..chats. */
  pathPrefix: string;
  chats: number;
  /** Every body is `${bodyPrefix}${seq}` with seq = 1, 2, … so a stored row names its request. */
  bodyPrefix: string;
}

export interface ChildResult {
  sent: number;
  /** From the first due send to the last one made, and to the last answer. */
  sendMs: number;
  answeredMs: number;
  /** How late the sends left against their schedule (ms): shows whether this client kept up. */
  lateMs: Float64Array;
  statusCodes: Record<string, number>;
  /** Latency from each request's due time (so a late client shows too) to its answer, ms. */
  okMs: Float64Array;
  /** The same, for 503 answers; and how many 503s came without Retry-After. */
  rejectedMs: Float64Array;
  /** Both again from the moment each request went onto a connection: the server's share, without the time it waited in the client (for its schedule, or for a free connection). */
  okFromSendMs: Float64Array;
  rejectedFromSendMs: Float64Array;
  rejectedWithoutRetryAfter: number;
  /** Requests that got no HTTP answer (connection error, timeout), by error code. */
  errors: Record<string, number>;
  /** Per 2xx answer: the request's seq and the (chat, number) it was given. */
  ackedSeq: Int32Array;
  ackedChat: Int32Array;
  ackedNumber: Int32Array;
  /** Per request without a 2xx: its seq and status (0: no answer). */
  failedSeq: Int32Array;
  failedStatus: Int32Array;
}

let connections: Http1Connections | null = null;
let connectionsKey = "";

async function runLoad(r: OpenLoopRun): Promise<ChildResult> {
  if (!connections || connectionsKey !== `${r.origin}|${r.connections}`) {
    connections?.close();
    const url = new URL(r.origin);
    connections = new Http1Connections(url.hostname, Number(url.port), r.connections);
    await connections.open();
    connectionsKey = `${r.origin}|${r.connections}`;
  }
  const c = connections;
  const total = Math.max(1, Math.round(r.rate * r.durationS));
  const late = new Samples();
  const ok = new Samples();
  const rejected = new Samples();
  const okFromSend = new Samples();
  const rejectedFromSend = new Samples();
  const statusCodes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const acked: number[] = [];
  const failed: number[] = [];
  let rejectedWithoutRetryAfter = 0;
  let sent = 0;
  let answered = 0;
  let lastSend = 0;
  let lastAnswer = 0;

  const wait = r.startAt - (performance.timeOrigin + performance.now());
  if (wait > 0) await new Promise((res) => setTimeout(res, wait));
  const started = performance.now();
  const allAnswered = new Promise<void>((resolve) => {
    const done = (): void => {
      lastAnswer = performance.now();
      if (++answered === total) resolve();
    };
    const fire = (): void => {
      const seq = ++sent;
      const due = started + ((seq - 1) * 1000) / r.rate;
      lastSend = performance.now();
      late.add(lastSend - due);
      const chat = 1 + Math.floor(Math.random() * r.chats);
      let onWire = lastSend;
      c.post(`${r.pathPrefix}${chat}/messages`, `{"body":"${r.bodyPrefix}${seq}"}`, () => (onWire = performance.now()))
        .then((res) => {
          const now = performance.now();
          statusCodes[res.status] = (statusCodes[res.status] ?? 0) + 1;
          if (res.status >= 200 && res.status < 300) {
            ok.add(now - due);
            okFromSend.add(now - onWire);
            const m = JSON.parse(res.body) as { number: number; chat_number: number };
            acked.push(seq, m.chat_number, m.number);
          } else {
            failed.push(seq, res.status);
            if (res.status === 503) {
              rejected.add(now - due);
              rejectedFromSend.add(now - onWire);
              if (!res.retryAfter) rejectedWithoutRetryAfter++;
            }
          }
        })
        .catch((err: unknown) => {
          const code = (err as { code?: string }).code ?? "error";
          errors[code] = (errors[code] ?? 0) + 1;
          failed.push(seq, 0);
        })
        .finally(done);
    };
    void openLoop(r.rate, total, started, () => sent, fire);
  });
  await allAnswered;
  const column = (xs: number[], width: number, k: number): Int32Array => Int32Array.from({ length: xs.length / width }, (_, i) => xs[i * width + k]!);
  return {
    sent,
    sendMs: lastSend - started,
    answeredMs: lastAnswer - started,
    lateMs: late.raw(),
    statusCodes,
    okMs: ok.raw(),
    rejectedMs: rejected.raw(),
    okFromSendMs: okFromSend.raw(),
    rejectedFromSendMs: rejectedFromSend.raw(),
    rejectedWithoutRetryAfter,
    errors,
    ackedSeq: column(acked, 3, 0),
    ackedChat: column(acked, 3, 1),
    ackedNumber: column(acked, 3, 2),
    failedSeq: column(failed, 2, 0),
    failedStatus: column(failed, 2, 1),
  };
}

process.on("message", (msg: ({ type: "run" } & OpenLoopRun) | { type: "close" }) => {
  if (msg.type === "close") {
    connections?.close();
    process.exit(0);
    return;
  }
  runLoad(msg).then(
    (result) => process.send!({ type: "result", ...result }),
    (err: unknown) => process.send!({ type: "error", message: err instanceof Error ? err.message : String(err) }),
  );
});
process.send!({ type: "ready" });
