import { spawn } from "node:child_process";
import { trackLoadGenerator } from "./cpu.js";
import { repoRoot } from "./procs.js";

// Runs bench/ws-load.ts (the realtime engineer's tool; a CLI, so a child
// process) against servers that are already up, and returns its --json result.

/** Lines ws-load logs on stderr (after "[ws-load] ") when it starts sending, and when every delivery is in. */
export const WS_LOAD_MARKS = { sending: "sending", drained: "drained" } as const;

export interface WsLoadArgs {
  urls: string[];
  app: string;
  /** Chats 1..chats must exist in the application. */
  chats: number;
  /** Open-loop sends per second; or `window`: sends kept undelivered (ws-load --window). */
  rate?: number;
  window?: number;
  durationS: number;
  subscribers: number;
  /** Processes holding the subscribers (ws-load --subscriber-procs; default 1). */
  subscriberProcs?: number;
  /** Called as ws-load starts sending and once every delivery is in (e.g. to bound a CPU window). */
  onMark?: (mark: keyof typeof WS_LOAD_MARKS) => void;
}

export interface WsLoadResult {
  config: Record<string, unknown>;
  sends: { sent: number; acked: number; errors: Record<string, number>; unanswered: number; ackedPerSec: number };
  ackLatencyMs: { p50: number | null; p95: number | null; p99: number | null };
  deliveries: { expected: number; delivered: number; missing: number; duplicates: number; outOfOrder: number; deliveredPerSec: number; windowS: number };
  e2eLatencyMs: { p50: number | null; p95: number | null; p99: number | null; max: number | null };
  subscriberCloses: Record<string, number>;
}

export function runWsLoad(a: WsLoadArgs): Promise<WsLoadResult> {
  const options = {
    url: a.urls.join(","),
    app: a.app,
    chats: a.chats,
    ...(a.window !== undefined ? { window: a.window } : { rate: a.rate ?? 1000 }),
    duration: a.durationS,
    subscribers: a.subscribers,
    "subscriber-procs": a.subscriberProcs ?? 1,
  };
  // Always --name=value: a token is base64url and one in 64 begins with "-", which
  // parseArgs takes for an option after a bare --app and refuses ("ws-load exited 1").
  const args = ["--import", "tsx", "bench/ws-load.ts", ...Object.entries(options).map(([name, value]) => `--${name}=${value}`), "--json"];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    trackLoadGenerator(child);
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => {
      const before = err.length;
      err += c.toString();
      for (const line of err.slice(err.lastIndexOf("\n", before - 1) + 1).split("\n").slice(0, -1)) {
        for (const mark of Object.keys(WS_LOAD_MARKS) as (keyof typeof WS_LOAD_MARKS)[]) if (line === `[ws-load] ${WS_LOAD_MARKS[mark]}`) a.onMark?.(mark);
      }
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), (a.durationS + 120) * 1000);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        // The error's own line, not the tail of its stack (which is all "at …", "}" and the Node version).
        const lines = err.trim().split("\n");
        const message = lines.find((l) => /^\w*Error\b/.test(l)) ?? lines.filter((l) => !/^\s+at /.test(l)).slice(-4).join(" / ");
        return reject(new Error(`ws-load exited ${code ?? signal}: ${message || "(no output)"}`));
      }
      try {
        resolve(JSON.parse(out.slice(out.indexOf("{"))) as WsLoadResult);
      } catch {
        reject(new Error(`ws-load printed no JSON: ${out.slice(0, 300)}`));
      }
    });
  });
}
