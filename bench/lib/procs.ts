import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface NodeProc {
  name: string;
  child: ChildProcess;
  port: number;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns `node [nodeArgs] --import tsx <script> [args]` and resolves once its
 * output matched `ready` (by default `"port":N`; `port` is 0 when it printed
 * none, as the worker). For the bench's own servers, and for the product
 * processes that need node flags (`--cpu-prof`), which
 * test/support/processes.ts's spawnCli cannot pass.
 */
export async function spawnNode(
  name: string,
  script: string,
  opts: { args?: string[]; nodeArgs?: string[]; env?: Record<string, string>; ready?: RegExp; timeoutMs?: number } = {},
): Promise<NodeProc> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), "--import", "tsx", script, ...(opts.args ?? [])], {
    cwd: repoRoot,
    env: { ...process.env, NODE_ENV: "production", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const ready = opts.ready ?? /"port":\d+/;
  let out = "";
  let port = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} not ready after ${opts.timeoutMs ?? 30_000} ms:\n${out.slice(-4000)}`));
    }, opts.timeoutMs ?? 30_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.length > 1_000_000) out = out.slice(-500_000);
      const m = /"port":(\d+)/.exec(out);
      if (m && port === 0) port = Number(m[1]);
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before ready:\n${out.slice(-4000)}`));
    });
  });
  return {
    name,
    child,
    port,
    output: () => out,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
