import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { migrate } from "../../src/adapters/mysql/migrate.js";
import type { Backends } from "../../src/compose/backends.js";
import { clusterBackends } from "../../src/compose/cluster.js";
import { embeddedBackends } from "../../src/compose/embedded.js";
import { loadConfig } from "../../src/config.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { startWorker } from "../../src/worker/run-worker.js";
import { cleanupRun } from "./cleanup.js";
import { isolatedEnv } from "./env.js";

export type Mode = "embedded" | "cluster";

export interface InProcessServer {
  mode: Mode;
  port: number;
  base: string;
  /** The process's environment (cluster: the isolated run's names). */
  env: Record<string, string>;
  backends: Backends;
  server: RunningServer;
  stop(): Promise<void>;
}

/**
 * An API and a worker in this process: on the embedded adapters (as `npm
 * start` runs) or on the cluster adapters against the loopback services, in
 * an isolated run that `stop` removes.
 */
export async function startInProcess(mode: Mode, label: string, extraEnv: Record<string, string> = {}): Promise<InProcessServer> {
  const silent = pino({ level: "silent" });
  let env: Record<string, string>;
  let backends: Backends;
  if (mode === "embedded") {
    env = { HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "silent", ...extraEnv };
    backends = embeddedBackends(loadConfig(env));
  } else {
    env = isolatedEnv(label, extraEnv);
    await migrate(new URL(env.MYSQL_URL!), fileURLToPath(new URL("../../sql", import.meta.url)));
    const config = loadConfig(env);
    backends = clusterBackends(config, config.cluster!, silent);
    await backends.search.ensure(); // as the CLI does before serving
  }
  const config = loadConfig(env);
  const worker = await startWorker(config, backends, silent);
  const server = await startServer(config, backends, silent);
  return {
    mode,
    port: server.port,
    base: `http://127.0.0.1:${server.port}`,
    env,
    backends,
    server,
    async stop() {
      await server.close();
      await worker.close();
      await backends.close();
      if (mode === "cluster") await cleanupRun(env);
    },
  };
}
