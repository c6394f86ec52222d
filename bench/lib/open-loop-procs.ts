import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { trackLoadGenerator } from "./cpu.js";
import type { ChildResult, OpenLoopRun } from "./open-loop-child.js";
import { repoRoot } from "./procs.js";
import { Samples, is2xx, type LatencySummary } from "./stats.js";

// Open-loop REST creates from several client processes (bench/lib/open-loop-child.ts)
// at a combined rate: each takes rate/N and connections/N, all start on one
// schedule, and their outcomes are merged here.

export interface OpenLoopLoad extends Omit<OpenLoopRun, "startAt" | "rate" | "connections" | "bodyPrefix"> {
  /** Creates per second and connections, in total over the clients. */
  rate: number;
  connections: number;
  /** Unique per run: every body is `${bodyPrefix}${client}:${seq}`. */
  bodyPrefix: string;
}

export interface OpenLoopResult {
  offeredPerSec: number;
  sent: number;
  /** Seconds from the first due send to the last send made, and to the last answer. */
  sendS: number;
  answeredS: number;
  /** How late sends left against their schedule (ms): a load generator that keeps up stays near 0. */
  late: LatencySummary;
  statusCodes: Record<string, number>;
  accepted: number;
  acceptedPerSec: number;
  /** Latency of 2xx answers from their due time. */
  acceptedLatency: LatencySummary;
  /** 503 answers, their latency, and how many came without Retry-After. */
  rejected: number;
  rejectedLatency: LatencySummary;
  /** Both latencies from the moment each request went onto a connection (the server's share). */
  acceptedFromSend: LatencySummary;
  rejectedFromSend: LatencySummary;
  rejectedWithoutRetryAfter: number;
  /** Other non-2xx answers (not 503). */
  otherNon2xx: number;
  /** Requests without an HTTP answer, by error code. */
  errors: Record<string, number>;
  errorCount: number;
  acked: { body: string; chat: number; number: number }[];
  /** Requests without a 2xx, by body (status 0: no answer). */
  failed: Map<string, number>;
}

const sum = (xs: Record<string, number>): number => Object.values(xs).reduce((a, b) => a + b, 0);

export class OpenLoopClients {
  private constructor(private readonly children: ChildProcess[]) {}

  static async start(count: number): Promise<OpenLoopClients> {
    const children = await Promise.all(
      Array.from({ length: count }, async () => {
        const child = fork(join(repoRoot, "bench/lib/open-loop-child.ts"), [], {
          cwd: repoRoot,
          execArgv: ["--import", "tsx"],
          serialization: "advanced",
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
        trackLoadGenerator(child);
        const [msg] = (await Promise.race([once(child, "message"), once(child, "exit").then(() => [{ type: "exit" }])])) as [{ type: string }];
        if (msg.type !== "ready") throw new Error("open-loop client exited before it was ready");
        return child;
      }),
    );
    return new OpenLoopClients(children);
  }

  async run(load: OpenLoopLoad): Promise<OpenLoopResult> {
    const n = this.children.length;
    const startAt = performance.timeOrigin + performance.now() + 200;
    const results = await Promise.all(
      this.children.map(
        (child, k) =>
          new Promise<ChildResult>((resolve, reject) => {
            const onExit = (code: number | null): void => reject(new Error(`open-loop client exited (${code}) mid-run`));
            child.once("exit", onExit);
            child.once("message", (msg: { type: string; message?: string } & ChildResult) => {
              child.off("exit", onExit);
              if (msg.type === "result") resolve(msg);
              else reject(new Error(`open-loop client failed: ${msg.message}`));
            });
            const run: OpenLoopRun = {
              ...load,
              startAt,
              rate: load.rate / n,
              connections: Math.max(1, Math.round(load.connections / n)),
              bodyPrefix: `${load.bodyPrefix}${k}:`,
            };
            child.send({ type: "run", ...run });
          }),
      ),
    );
    const statusCodes: Record<string, number> = {};
    const errors: Record<string, number> = {};
    const acked: OpenLoopResult["acked"] = [];
    const failed = new Map<string, number>();
    results.forEach((r, k) => {
      for (const [code, c] of Object.entries(r.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + c;
      for (const [code, c] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + c;
      const prefix = `${load.bodyPrefix}${k}:`;
      r.ackedSeq.forEach((seq, i) => acked.push({ body: `${prefix}${seq}`, chat: r.ackedChat[i]!, number: r.ackedNumber[i]! }));
      r.failedSeq.forEach((seq, i) => failed.set(`${prefix}${seq}`, r.failedStatus[i]!));
    });
    const sendS = Math.max(...results.map((r) => r.sendMs)) / 1000;
    const accepted = Object.entries(statusCodes).reduce((a, [code, c]) => a + (is2xx(code) ? c : 0), 0);
    const rejected = statusCodes["503"] ?? 0;
    return {
      offeredPerSec: load.rate,
      sent: results.reduce((a, r) => a + r.sent, 0),
      sendS,
      answeredS: Math.max(...results.map((r) => r.answeredMs)) / 1000,
      late: Samples.merged(results.map((r) => r.lateMs)).summary(),
      statusCodes,
      accepted,
      acceptedPerSec: sendS > 0 ? accepted / sendS : 0,
      acceptedLatency: Samples.merged(results.map((r) => r.okMs)).summary(),
      rejected,
      rejectedLatency: Samples.merged(results.map((r) => r.rejectedMs)).summary(),
      acceptedFromSend: Samples.merged(results.map((r) => r.okFromSendMs)).summary(),
      rejectedFromSend: Samples.merged(results.map((r) => r.rejectedFromSendMs)).summary(),
      rejectedWithoutRetryAfter: results.reduce((a, r) => a + r.rejectedWithoutRetryAfter, 0),
      otherNon2xx: sum(statusCodes) - accepted - rejected,
      errors,
      errorCount: sum(errors),
      acked,
      failed,
    };
  }

  async close(): Promise<void> {
    await Promise.all(
      this.children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, "exit");
        child.send({ type: "close" });
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
