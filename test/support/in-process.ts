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

export interface InProcess {
  base: string;
  ws: string;
  server: RunningServer;
  backends: Backends;
  config: Config;
  /** Stops the worker (what it holds unacked goes back to the queue) and starts a new one on the same backends. */
  restartWorker(): Promise<void>;
  stop(): Promise<void>;
}

export interface InProcessOptions {
  /** Names the isolated run (cluster mode). */
  label?: string;
  /** The server's and worker's logger (silent by default). */
  log?: Logger;
}

/**
 * One server and a worker in this process, on the embedded adapters (as
 * `npm start` runs it) or on the cluster adapters against the loopback
 * services (an isolated run: own database, prefix, queues and alias).
 */
export async function startInProcess(mode: Mode, extraEnv: Record<string, string>, options: InProcessOptions = {}): Promise<InProcess> {
  const log = options.log ?? pino({ level: "silent" });
  const cluster = mode === "cluster";
  let env: Record<string, string>;
  let backends: Backends;
  if (!cluster) {
    env = { HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "silent", ...extraEnv };
    backends = embeddedBackends(loadConfig(env));
  } else {
    env = isolatedEnv(options.label ?? "ws", extraEnv);
    await migrate(new URL(env.MYSQL_URL!), fileURLToPath(new URL("../../sql", import.meta.url)));
    const config = loadConfig(env);
    backends = clusterBackends(config, config.cluster!, log);
  }
  const config = loadConfig(env);
  let worker: RunningWorker = await startWorker(config, backends, log);
  const server = await startServer(config, backends, log);
  return {
    base: `http://127.0.0.1:${server.port}`,
    ws: `ws://127.0.0.1:${server.port}/ws`,
    server,
    backends,
    config,
    async restartWorker() {
      await worker.close();
      worker = await startWorker(config, backends, log);
    },
    async stop() {
      await server.close();
      await worker.close();
      await backends.close();
      if (cluster) await cleanupRun(env);
    },
  };
}
