import { Pool } from "undici";
import type WebSocket from "ws";
import { Outcomes, Samples, is2xx, type LatencySummary } from "./stats.js";
import { openSocket, request } from "./ws-send.js";
import { openLoop } from "./open-loop.js";

// End-to-end realtime latency: REST creates on one API process at a fixed,
// open-loop rate (a send is due every 1/rate s whether or not earlier ones
// answered), subscribers connected to another API process. The body carries
// the send time (performance.now() of this process), so latency is measured
// on one clock: body built → `message` frame parsed on the subscriber.

export interface E2eLoad {
  restOrigin: string;
  wsUrl: string;
  app: string;
  /** Creates go round-robin over these chats; every subscriber subscribes to all of them. */
  chats: number[];
  /** Creates per second. */
  rate: number;
  durationS: number;
  connections: number;
  subscribers: number;
  /** How long to wait for stragglers after the last create answered. */
  tailMs?: number;
}

export interface E2eResult {
  durationS: number;
  sent: number;
  achievedPerSec: number;
  created: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  /** Per subscriber: created messages that never arrived, and duplicates. */
  missing: number;
  duplicates: number;
  outOfOrder: number;
  rest: LatencySummary;
  e2e: LatencySummary;
}

export async function runE2e(load: E2eLoad): Promise<E2eResult> {
  const subs: WebSocket[] = [];
  try {
    for (let i = 0; i < load.subscribers; i++) {
      const ws = await openSocket(load.wsUrl);
      subs.push(ws);
      for (const chat of load.chats) {
        const reply = await request(ws, { op: "subscribe", app: load.app, chat });
        if (reply.op === "error") throw new Error(`subscribe refused: ${JSON.stringify(reply)}`);
      }
    }
  } catch (err) {
    subs.forEach((ws) => ws.terminate());
    throw err;
  }

  const e2e = new Samples();
  const seen = subs.map(() => new Set<string>());
  let duplicates = 0;
  let outOfOrder = 0;
  subs.forEach((ws, i) => {
    const last = new Map<number, number>();
    ws.on("message", (data) => {
      const now = performance.now();
      let frame: { op?: string; chat?: number; number?: number; body?: string };
      try {
        frame = JSON.parse(data.toString()) as typeof frame;
      } catch {
        return;
      }
      if (frame.op !== "message" || typeof frame.body !== "string" || !frame.body.startsWith("e2e:")) return;
      const sentAt = Number(frame.body.slice(frame.body.lastIndexOf(":") + 1));
      const number = frame.number ?? 0;
      const chat = frame.chat ?? 0;
      const key = `${chat}:${number}`;
      if (seen[i]!.has(key)) duplicates++;
      seen[i]!.add(key);
      if (number < (last.get(chat) ?? 0)) outOfOrder++;
      last.set(chat, number);
      e2e.add(now - sentAt);
    });
  });

  const pool = new Pool(load.restOrigin, { connections: load.connections, pipelining: 1 });
  const paths = load.chats.map((chat) => `/api/v1/applications/${load.app}/chats/${chat}/messages`);
  const rest = new Samples();
  const outcomes = new Outcomes();
  const created = new Set<string>();
  let errors = 0;
  let sent = 0;
  const total = Math.max(1, Math.round(load.rate * load.durationS));
  const inflight: Promise<void>[] = [];
  const fire = (): void => {
    const seq = ++sent;
    const chat = load.chats[seq % load.chats.length]!;
    const path = paths[seq % paths.length]!;
    const t = performance.now();
    const body = JSON.stringify({ body: `e2e:${seq}:${t.toFixed(3)}` });
    inflight.push(
      pool
        .request({ path, method: "POST", headers: { "content-type": "application/json" }, body })
        .then(async (res) => {
          const text = await res.body.text();
          outcomes.add(res.statusCode);
          if (res.statusCode >= 200 && res.statusCode < 300) {
            rest.add(performance.now() - t);
            created.add(`${chat}:${(JSON.parse(text) as { number: number }).number}`);
          }
        })
        .catch(() => {
          errors++;
        }),
    );
  };
  const started = performance.now();
  await openLoop(load.rate, total, started, () => sent, fire);
  const sendWindowS = (performance.now() - started) / 1000;
  await Promise.all(inflight);
  const answeredS = (performance.now() - started) / 1000;
  // Wait for the subscribers to catch up with everything that was created.
  const deadline = performance.now() + (load.tailMs ?? 3000);
  while (performance.now() < deadline && seen.some((s) => [...created].some((k) => !s.has(k)))) {
    await new Promise((r) => setTimeout(r, 50));
  }
  let missing = 0;
  for (const s of seen) for (const k of created) if (!s.has(k)) missing++;
  subs.forEach((ws) => ws.close(1000));
  await pool.close();
  const ok = outcomes.count(is2xx);
  return {
    durationS: Math.round(sendWindowS * 100) / 100,
    sent,
    // Over the time until the last create answered: below `rate` when the server fell behind.
    achievedPerSec: ok / answeredS,
    created: ok,
    non2xx: outcomes.count((c) => !is2xx(c)),
    errors,
    statusCodes: outcomes.byCode,
    missing,
    duplicates,
    outOfOrder,
    rest: rest.summary(),
    e2e: e2e.summary(),
  };
}
