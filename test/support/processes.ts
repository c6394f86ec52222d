import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

export interface Proc {
  child: ChildProcess;
  port: number | null;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns `src/cli.ts <command>` as a real process; resolves once it logged
 * readiness. `prefix` runs it through another command that execs it (such as
 * `ip netns exec <ns>`), so the child's pid is still the process's.
 */
export async function spawnCli(
  command: string,
  env: Record<string, string>,
  readyPattern = /API listening|worker started|migrations applied|schema is up to date/,
  prefix: string[] = [],
): Promise<Proc> {
  const argv = [...prefix, process.execPath, "--import", "tsx", "src/cli.ts", command];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: root,
    env: { ...process.env, ...env, LOG_LEVEL: env.LOG_LEVEL === "warn" ? "info" : (env.LOG_LEVEL ?? "info"), NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let port: number | null = null;
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /"port":(\d+)/.exec(out);
      if (m) port = Number(m[1]);
      if (readyPattern.test(out)) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${command} exited with ${code} before ready:\n${out}`)));
  });
  const timeout = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await ready.finally(() => clearTimeout(timeout));
  return {
    child,
    get port() {
      return port;
    },
    output: () => out,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill(signal);
      await exited;
    },
  };
}

/** Runs a CLI command to completion and returns its exit code and output. */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, output };
}

/** Migrates, then spawns `servers` real `serve` processes and one `worker` on one isolated env. */
export async function spawnCluster(env: Record<string, string>, servers: number): Promise<{ servers: Proc[]; worker: Proc }> {
  const migrated = await runCli(["migrate"], env);
  if (migrated.code !== 0) throw new Error(`migrate failed:\n${migrated.output}`);
  const spawned = await Promise.all(Array.from({ length: servers }, () => spawnCli("serve", env)));
  return { servers: spawned, worker: await spawnCli("worker", env) };
}
