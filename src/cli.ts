#!/usr/bin/env node
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { migrate } from "./adapters/mysql/migrate.js";
import type { Backends } from "./compose/backends.js";
import { clusterBackends } from "./compose/cluster.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { createLogger, type Logger } from "./log.js";
import { startServer } from "./server.js";
import { startWorker } from "./worker/run-worker.js";

const USAGE = `usage: chat-backend <command>
  serve     API (REST + WebSocket); in embedded mode also the worker
  worker    persistence, indexing and count reconciliation
  all       serve and worker in one process
  migrate   apply sql/ migrations (idempotent)
  reindex   rebuild the search index from MySQL and swap the alias`;

const sqlDir = join(dirname(fileURLToPath(import.meta.url)), "..", "sql");

async function main(argv: string[]): Promise<void> {
  const command = argv[0] ?? "serve";
  if (!["serve", "worker", "all", "migrate", "reindex"].includes(command)) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel, `chat-${command}`);

  if (config.mode === "embedded") {
    if (command !== "serve" && command !== "all") {
      log.info(`'${command}' needs cluster mode (set MYSQL_URL, REDIS_URL, AMQP_URL, ELASTICSEARCH_URL); nothing to do in embedded mode`);
      return;
    }
    return runEmbedded(config, log);
  }
  const urls = config.cluster!;
  if (command === "migrate") {
    const applied = await migrate(urls.mysql, sqlDir);
    log.info({ applied }, applied.length ? "migrations applied" : "schema is up to date");
    return;
  }
  const backends = clusterBackends(config, urls, log);
  if (command === "reindex") {
    const { runReindex } = await import("./worker/run-reindex.js");
    await runReindex(config, backends, log);
    await backends.close();
    return;
  }
  await backends.search.ensure().catch((err: unknown) => log.warn({ err }, "search index not ready yet; searches answer 503 until it is"));
  const closers: (() => Promise<void>)[] = [];
  if (command === "serve" || command === "all") {
    const server = await startServer(config, backends, log);
    closers.push(() => server.close());
    log.info({ port: server.port, mode: "cluster", pid: process.pid }, "API listening");
  }
  if (command === "worker" || command === "all") {
    const worker = await startWorker(config, backends, log);
    closers.push(() => worker.close());
    log.info({ pid: process.pid }, "worker started");
  }
  shutdownOn(log, config.shutdownTimeoutMs, async () => {
    for (const close of closers) await close();
    await backends.close();
  });
}

async function runEmbedded(config: Config, log: Logger): Promise<void> {
  const { embeddedBackends } = await import("./compose/embedded.js");
  log.warn("EMBEDDED MODE: all data lives in this process's memory and is lost on exit; for trying and developing only");
  const backends: Backends = embeddedBackends(config);
  const worker = await startWorker(config, backends, log);
  const server = await startServer(config, backends, log);
  log.info({ port: server.port, mode: "embedded", pid: process.pid }, `API listening on http://localhost:${server.port}`);
  shutdownOn(log, config.shutdownTimeoutMs, async () => {
    await server.close();
    await worker.close();
    await backends.close();
  });
}

/**
 * SIGTERM/SIGINT: the server stops accepting, answers what is in flight and
 * closes WebSockets with 1001, then backends close. Past `timeoutMs` the
 * process exits 1 whatever is left.
 */
function shutdownOn(log: Logger, timeoutMs: number, close: () => Promise<void>): void {
  let closing = false;
  const stop = (signal: string): void => {
    if (closing) return;
    closing = true;
    log.info({ signal }, "shutting down");
    setTimeout(() => {
      log.error({ timeoutMs }, "shutdown did not finish within SHUTDOWN_TIMEOUT_MS; exiting");
      process.exit(1);
    }, timeoutMs).unref();
    close()
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, "error during shutdown");
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`fatal: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
