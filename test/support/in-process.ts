import { fileURLToPath } from "node:url";
import { pino, type Logger } from "pino";
import { migrate } from "../../src/adapters/mysql/migrate.js";
import type { Backends } from "../../src/compose/backends.js";
import { clusterBackends } from "../../src/compose/cluster.js";
import { embeddedBackends } from "../../src/compose/embedded.js";
import { loadConfig, type Config } from "../../src/config.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { startWorker, type RunningWorker } from "../../src/worker/run-worker.js";
import { cleanupRun } from "./cleanup.js";
import { isolatedEnv } from "./env.js";

export type Mode = "embedded" | "cluster";

export interface InProcessServer {
  mode: Mode;
  port: number;
  base: string;
  /** The socket URL, `ws://…/ws`. */
  ws: string;
  /** The process's environment (cluster: the isolated run's names). */
  env: Record<string, string>;
  config: Config;
  backends: Backends;
  server: RunningServer;
  /** Stops the worker (what it holds unacked goes back to the queue) and starts a new one on the same backends. */
  restartWorker(): Promise<void>;
  stop(): Promise<void>;
}

export interface InProcessOptions {
  /** The server's and worker's logger (silent by default). */
  log?: Logger;
}

/**
 * An API and a worker in this process: on the embedded adapters (as `npm
 * start` runs) or on the cluster adapters against the loopback services, in
 * an isolated run that `stop` removes.
 */
export async function startInProcess(mode: Mode, label: string, extraEnv: Record<string, string> = {}, options: InProcessOptions = {}): Promise<InProcessServer> {
  const log = options.log ?? pino({ level: "silent" });
  let env: Record<string, string>;
  let backends: Backends;
  if (mode === "embedded") {
    env = { HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "silent", ...extraEnv };
    backends = embeddedBackends(loadConfig(env));
  } else {
    env = isolatedEnv(label, extraEnv);
    await migrate(new URL(env.MYSQL_URL!), fileURLToPath(new URL("../../sql", import.meta.url)));
    const config = loadConfig(env);
    backends = clusterBackends(config, config.cluster!, log);
    await backends.search.ensure(); // as the CLI does before serving
  }
  const config = loadConfig(env);
  let worker: RunningWorker = await startWorker(config, backends, log);
  const server = await startServer(config, backends, log);
  return {
    mode,
    port: server.port,
    base: `http://127.0.0.1:${server.port}`,
    ws: `ws://127.0.0.1:${server.port}/ws`,
    env,
    config,
    backends,
    server,
    async restartWorker() {
      await worker.close();
      worker = await startWorker(config, backends, log);
    },
    async stop() {
      await server.close();
      await worker.close();
      await backends.close();
      if (mode === "cluster") await cleanupRun(env);
    },
  };
}
