import { Pool } from "undici";
import { Samples, type LatencySummary } from "./stats.js";
import { openLoop } from "./open-loop.js";

// Sustained load: open-loop creates at a fixed rate (a send is due every
// 1/rate s whether or not earlier ones answered), spread over chats, while
// MySQL is sampled every second. Lag at a sample = acknowledged-but-not-yet-
// persisted messages ÷ rate, i.e. how far behind the worker is in seconds.

export interface LagLoad {
  origin: string;
  path: () => string;
  body: () => string;
  rate: number;
  durationS: number;
  connections: number;
  /** Rows persisted so far by this run. */
  persisted: () => Promise<number>;
}

export interface LagResult {
  sent: number;
  acked: number;
  failed: number;
  achievedPerSec: number;
  /** Worst and last sampled lag, seconds. */
  maxLagS: number;
  samples: { t: number; acked: number; persisted: number; lagS: number }[];
  /** After the last send: time until MySQL held every acknowledged message. */
  catchUpMs: number | null;
  rest: LatencySummary;
}

export async function runLag(load: LagLoad): Promise<LagResult> {
  const pool = new Pool(load.origin, { connections: load.connections, pipelining: 1 });
  const latency = new Samples();
  const total = Math.max(1, Math.round(load.rate * load.durationS));
  let sent = 0;
  let acked = 0;
  let failed = 0;
  let inFlight = 0;
  const fire = (): void => {
    sent++;
    inFlight++;
    const t0 = performance.now();
    pool
      .request({ path: load.path(), method: "POST", headers: { "content-type": "application/json" }, body: load.body() })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode === 201) {
          acked++;
          latency.add(performance.now() - t0);
        } else failed++;
      })
      .catch(() => void failed++)
      .finally(() => void inFlight--);
  };
  const started = performance.now();
  const samples: LagResult["samples"] = [];
  const sampler = setInterval(() => {
    const at = acked;
    void load.persisted().then((persisted) => {
      samples.push({ t: Math.round((performance.now() - started) / 1000), acked: at, persisted, lagS: Math.max(0, at - persisted) / load.rate });
    });
  }, 1000);
  await openLoop(load.rate, total, started, () => sent, fire);
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
  const sendS = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const lastSend = performance.now();
  let catchUpMs: number | null = null;
  while (performance.now() - lastSend < 120_000) {
    if ((await load.persisted()) >= acked) {
      catchUpMs = performance.now() - lastSend;
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  await pool.close();
  return {
    sent,
    acked,
    failed,
    achievedPerSec: acked / sendS,
    maxLagS: Math.max(0, ...samples.map((s) => s.lagS)),
    samples,
    catchUpMs,
    rest: latency.summary(),
  };
}
